from __future__ import annotations

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from core.errors import ValidationFailed
from core.files import storage
from core.reports import services as reports
from core.reports.vocabulary import AGE_GROUPS, CATEGORIES, COORDINATE_SYSTEMS, REPORTER_ROLES, URGENCY, parse_caps
from miniprogram_api import examples as ex
from miniprogram_api.idempotency import idempotent
from miniprogram_api.openapi import errors
from miniprogram_api.reports.schemas import (
    CategoriesOut,
    CreatedReportOut,
    PhotoFile,
    PhotoOut,
    ReportDetailOut,
    ReportIn,
    ReportOut,
    report_items,
)
from miniprogram_api.security import current_actor
from web.limiter import limiter

blp = Blueprint(
    "reports", __name__, url_prefix="/api/v1", description="主动发现 One-tap reports of people in difficulty"
)


def _options(values: dict) -> list[dict]:
    return [{"code": k, "label": v} for k, v in values.items()]


@blp.route("/report-categories")
class ReportCategories(MethodView):
    @blp.doc(security=[])
    @blp.response(200, CategoriesOut, example=ex.CATEGORIES_OUT)
    def get(self):
        """报告表单选项

        The fixed lists for the report form: categories, urgency, age groups, coordinate systems and
        reporter roles, each a code with its Chinese label. Public."""
        return {
            "categories": _options(CATEGORIES),
            "urgency": _options(URGENCY),
            "age_groups": _options(AGE_GROUPS),
            "coordinate_systems": _options(COORDINATE_SYSTEMS),
            "reporter_roles": _options(REPORTER_ROLES),
        }


@blp.route("/reports")
class ReportList(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["REPORT_IP_LIMIT"], methods=["POST"])]

    @blp.response(200, ReportOut(many=True), example=[ex.REPORT_OUT])
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters):
        """我的报告列表

        Reports I made, newest first, paginated (`X-Pagination`)."""
        page = reports.list_for_reporter(
            current_actor(), page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        # the rows as ReportOut dumps them, by hand (the hot list): the same body, less CPU
        return current_app.json.response(report_items(page.items))

    @idempotent
    @blp.arguments(
        ReportIn,
        examples={
            "grid_worker": {"value": ex.REPORT_IN},
            "minimal": {"value": {"category": "other", "township_code": ex.TOWNSHIP}},
        },
    )
    @blp.response(201, CreatedReportOut, example=ex.CREATED_REPORT_OUT)
    @errors("reporter_outside_region", "report_daily_cap", "too_many_requests")
    def post(self, data: dict):
        """主动发现：报告困难群众

        Reports a person in difficulty: a category and the township are enough. Reporter roles (grid worker,
        volunteer, …) report within their region; a reporter's own earlier open report of the same person is
        merged (`is_duplicate`). Limited per account per 24 h by role (`REPORT_DAILY_CAPS`) and per IP. Send an
        `Idempotency-Key` so that a report queued offline and sent again later is filed once."""
        report, _duplicate = reports.create_report(
            current_actor(), data, caps=parse_caps(current_app.config["REPORT_DAILY_CAPS"])
        )
        events = reports.reporter_events(report)
        report.message = events[-1].reporter_text if events else None
        return report


@blp.route("/reports/<int:report_id>")
class ReportDetail(MethodView):
    @blp.response(200, ReportDetailOut, example=ex.REPORT_DETAIL_OUT)
    @errors("report_not_found")
    def get(self, report_id: int):
        """查看报告及处理进度

        One of my reports with its progress in plain Chinese and its photos; another user's is 404."""
        report = reports.get_for_reporter(current_actor(), report_id)
        report.progress = reports.reporter_events(report)
        report.photos = reports.photos_of(report)
        return report


@blp.route("/reports/<int:report_id>/photos")
class ReportPhotos(MethodView):
    @idempotent
    @blp.arguments(PhotoFile, location="files")
    @blp.response(201, PhotoOut, example=ex.PHOTO_OUT)
    @errors("report_not_found")
    def post(self, files: dict, report_id: int):
        """上传报告照片

        Adds a photo (`multipart/form-data` field `file`): JPEG or PNG by content, at most 9 per report and
        `MAX_UPLOAD_BYTES` each; EXIF and GPS are removed. Send an `Idempotency-Key` so that a retried upload is
        stored once."""
        report = reports.get_for_reporter(current_actor(), report_id)
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": ["请选择要上传的照片"]})
        max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
        return reports.add_photo(
            current_actor(), report, upload.read(max_bytes + 1), upload.filename, max_bytes=max_bytes
        )


@blp.route("/reports/<int:report_id>/photos/<int:photo_id>")
class ReportPhoto(MethodView):
    @blp.response(200, description="The photo (JPEG or PNG, by its content_type)", content_type="image/jpeg")
    @errors("report_not_found")
    def get(self, report_id: int, photo_id: int):
        """下载报告照片

        A photo of my report, as stored (EXIF removed)."""
        photo = reports.get_photo(reports.get_for_reporter(current_actor(), report_id), photo_id)
        return send_file(
            storage.open_path(photo.storage_key),
            mimetype=photo.content_type,
            download_name=f"photo-{photo.id}.{storage.EXTENSIONS.get(photo.content_type, 'bin')}",
            as_attachment=True,
        )
