from __future__ import annotations

from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from core.files import storage
from core.reports import services as reports
from core.reports.vocabulary import AGE_GROUPS, CATEGORIES, COORDINATE_SYSTEMS, REPORTER_ROLES, URGENCY, parse_caps
from miniprogram_api.idempotency import idempotent
from miniprogram_api.reports.schemas import (
    CategoriesOut,
    CreatedReportOut,
    PhotoFile,
    PhotoOut,
    ReportDetailOut,
    ReportIn,
    ReportOut,
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
    @blp.response(200, CategoriesOut)
    def get(self):
        """The fixed lists for the report form (Chinese labels)."""
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

    @blp.response(200, ReportOut(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters):
        """Reports I made, newest first."""
        page = reports.list_for_reporter(
            current_actor(), page=pagination_parameters.page, page_size=pagination_parameters.page_size
        )
        pagination_parameters.item_count = page.total
        return page.items

    @idempotent
    @blp.arguments(ReportIn)
    @blp.response(201, CreatedReportOut)
    @blp.alt_response(429, description="Daily cap for the reporter's role reached, or too many requests from this IP")
    def post(self, data: dict):
        """Report a person in difficulty: category and where are enough. Send an `Idempotency-Key`
        so that a report queued offline and sent again later is filed once."""
        report, _duplicate = reports.create_report(
            current_actor(), data, caps=parse_caps(current_app.config["REPORT_DAILY_CAPS"])
        )
        events = reports.reporter_events(report)
        report.message = events[-1].reporter_text if events else None
        return report


@blp.route("/reports/<int:report_id>")
class ReportDetail(MethodView):
    @blp.response(200, ReportDetailOut)
    def get(self, report_id: int):
        """One of my reports with its progress (another user's → 404)."""
        report = reports.get_for_reporter(current_actor(), report_id)
        report.progress = reports.reporter_events(report)
        report.photos = reports.photos_of(report)
        return report


@blp.route("/reports/<int:report_id>/photos")
class ReportPhotos(MethodView):
    @blp.arguments(PhotoFile, location="files")
    @blp.response(201, PhotoOut)
    def post(self, files: dict, report_id: int):
        """Add a photo (JPEG/PNG by content, at most 9; EXIF and GPS removed)."""
        report = reports.get_for_reporter(current_actor(), report_id)
        upload = files["file"]
        max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
        return reports.add_photo(
            current_actor(), report, upload.read(max_bytes + 1), upload.filename, max_bytes=max_bytes
        )


@blp.route("/reports/<int:report_id>/photos/<int:photo_id>")
class ReportPhoto(MethodView):
    @blp.response(200, description="The photo", content_type="image/jpeg")
    def get(self, report_id: int, photo_id: int):
        """A photo of my report."""
        photo = reports.get_photo(reports.get_for_reporter(current_actor(), report_id), photo_id)
        return send_file(
            storage.open_path(photo.storage_key),
            mimetype=photo.content_type,
            download_name=f"photo-{photo.id}.{storage.EXTENSIONS.get(photo.content_type, 'bin')}",
            as_attachment=True,
        )
