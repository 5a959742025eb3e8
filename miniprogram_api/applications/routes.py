from __future__ import annotations

from flask import current_app, g, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from core.applications import services as applications
from core.errors import ValidationFailed
from core.files import storage
from miniprogram_api import examples as ex
from miniprogram_api.applications.schemas import (
    ApplicationOut,
    ApplicationSummary,
    AttachmentOut,
    CorrectionIn,
    CreateIn,
    DraftFields,
    EventOut,
    ListQuery,
    UploadForm,
    WithdrawIn,
    summary_items,
)
from miniprogram_api.idempotency import idempotent
from miniprogram_api.openapi import errors
from miniprogram_api.schemas import MULTIPART, MULTIPART_CONTENT_TYPES
from miniprogram_api.security import current_actor

blp = Blueprint(
    "applications",
    __name__,
    url_prefix="/api/v1/applications",
    description="救助申请 Relief applications: drafts, materials, submit, progress",
)
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    **MULTIPART_CONTENT_TYPES,
}


@blp.route("")
class ApplicationList(MethodView):
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, ApplicationSummary(many=True), example=[ex.APPLICATION_SUMMARY])
    @blp.paginate()
    def get(self, args: dict, pagination_parameters: PaginationParameters):
        """我的申请列表

        My applications: as applicant, as proxy, or as the person a proxy applied for; newest first,
        paginated (`X-Pagination`), optionally filtered by `status`."""
        page = applications.list_for_citizen(
            g.user,
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            status=args.get("status"),
        )
        pagination_parameters.item_count = page.total
        # the rows as ApplicationSummary dumps them, by hand (the hot list): the same body, less CPU
        return current_app.json.response(summary_items(page.items))

    @idempotent
    @blp.arguments(CreateIn, examples={"self": {"value": ex.CREATE_IN}, "proxy": {"value": ex.CREATE_PROXY_IN}})
    @blp.response(201, ApplicationOut, example=ex.APPLICATION_OUT)
    @errors("real_name_required")
    def post(self, data: dict):
        """新建申请草稿（本人申请或代办）

        Creates a draft for myself or, with `on_behalf_of`, as a proxy (代办). Needs a stated real name
        (`POST /api/v1/me/real-name`); submitting needs it verified. Every field but `program` may be filled
        in later with PATCH."""
        program = data.pop("program")
        on_behalf_of = data.pop("on_behalf_of", None)
        return applications.create_draft(current_actor(), g.user, program, on_behalf_of=on_behalf_of, fields=data)


@blp.route("/<int:application_id>")
class ApplicationDetail(MethodView):
    @blp.response(200, ApplicationOut, example=ex.SUBMITTED_OUT)
    @errors("application_not_found")
    def get(self, application_id: int):
        """查看申请详情

        One of my applications with its members, incomes, assets and materials; another user's is 404."""
        return applications.get_for_citizen(g.user, application_id)

    @blp.arguments(DraftFields, example=ex.DRAFT_PATCH_IN)
    @blp.response(200, ApplicationOut, example=ex.APPLICATION_OUT)
    @errors("application_not_found", "forbidden", "not_editable")
    def patch(self, data: dict, application_id: int):
        """保存草稿（部分修改）

        Saves partial edits of a draft, or of an application waiting for a correction: only the fields sent
        change, and a list sent (`members`, `incomes`, `assets`) replaces the stored one. Only the person who
        filled it in may edit."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.update_draft(current_actor(), g.user, app, data)

    @blp.response(204)
    @errors("application_not_found", "forbidden", "not_a_draft")
    def delete(self, application_id: int):
        """删除草稿

        Deletes a draft and its materials. A submitted application is withdrawn instead (409 `not_a_draft`)."""
        app = applications.get_for_citizen(g.user, application_id)
        applications.delete_draft(current_actor(), g.user, app)


@blp.route("/<int:application_id>/attachments")
class AttachmentList(MethodView):
    @blp.response(200, AttachmentOut(many=True), example=[ex.ATTACHMENT_OUT])
    @errors("application_not_found")
    def get(self, application_id: int):
        """申请材料列表

        The materials uploaded for the application, oldest first."""
        return applications.attachments_of(applications.get_for_citizen(g.user, application_id))

    @idempotent
    @blp.arguments(UploadForm, location=MULTIPART)
    @blp.response(201, AttachmentOut, example=ex.ATTACHMENT_OUT)
    @errors("application_not_found", "not_editable", "pdf_active_content")
    def post(self, body: dict, application_id: int):
        """上传申请材料

        A `multipart/form-data` body with `material` and one `file`: JPEG, PNG or PDF, recognised by content
        (not by name), at most `MAX_UPLOAD_BYTES`. Images are re-encoded without EXIF (GPS removed); PDFs with
        scripts, actions or embedded files are refused. Allowed on drafts and while a correction is requested.
        Send an `Idempotency-Key` so that a retried upload is stored once."""
        app = applications.get_for_citizen(g.user, application_id)
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": ["请选择要上传的文件"]})
        data = upload.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)
        return applications.add_attachment(
            current_actor(),
            g.user,
            app,
            body["material"],
            data,
            upload.filename,
            max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
        )


@blp.route("/<int:application_id>/attachments/<int:attachment_id>")
class AttachmentDetail(MethodView):
    @blp.response(200, description="The file itself (JPEG, PNG or PDF)", content_type="application/octet-stream")
    @errors("application_not_found", "attachment_not_found")
    def get(self, application_id: int, attachment_id: int):
        """下载申请材料

        The stored file, as an attachment download with its original name; only for the application's own
        users."""
        app = applications.get_for_citizen(g.user, application_id)
        attachment = applications.get_attachment(app, attachment_id)
        return send_file(
            storage.open_path(attachment.storage_key),
            mimetype=attachment.content_type,
            download_name=attachment.original_name,
            as_attachment=True,
        )

    @blp.response(204)
    @errors("application_not_found", "attachment_not_found", "not_editable")
    def delete(self, application_id: int, attachment_id: int):
        """删除申请材料

        Removes a material from a draft, or one added during a correction before the reply is sent;
        submitted materials stay (409 `not_editable`)."""
        app = applications.get_for_citizen(g.user, application_id)
        applications.delete_attachment(current_actor(), g.user, app, attachment_id)


@blp.route("/<int:application_id>/submit")
class Submit(MethodView):
    @idempotent
    @blp.response(200, ApplicationOut, example=ex.SUBMITTED_OUT)
    @errors(
        "application_not_found",
        "forbidden",
        "real_name_unverified",
        "applicant_not_verified_person",
        "already_submitted",
        "duplicate_application",
        "validation_failed",
    )
    def post(self, application_id: int):
        """提交申请

        Full validation (field-level 422 messages for anything missing or wrong, e.g. an ID number's check
        digit), then the application goes to the residence township's queue; a different 户籍 township gets a
        copy. 409 `duplicate_application` when this account already has an open application of the program for
        the same applicant; a member named in another household's application is never a 409 (the officers
        check it). Needs a verified real name."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.submit(current_actor(), g.user, app)


@blp.route("/<int:application_id>/withdraw")
class Withdraw(MethodView):
    @idempotent
    @blp.arguments(WithdrawIn, example=ex.WITHDRAW_IN)
    @blp.response(200, ApplicationOut, example=ex.WITHDRAWN_OUT)
    @errors("application_not_found", "not_withdrawable")
    def post(self, data: dict, application_id: int):
        """撤回申请

        Withdraws a submitted application before a decision, with a reason; the township's case closes."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.withdraw(current_actor(), g.user, app, data["reason"])


@blp.route("/<int:application_id>/corrections")
class Corrections(MethodView):
    @idempotent
    @blp.arguments(CorrectionIn, example=ex.CORRECTION_IN)
    @blp.response(200, ApplicationOut, example=ex.SUBMITTED_OUT)
    @errors("application_not_found", "no_correction_requested")
    def post(self, data: dict, application_id: int):
        """提交补正

        Replies to a correction request (补正): an explanation and the ids of the materials uploaded
        meanwhile (at least one of the two). The application returns to the township."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.reply_correction(current_actor(), g.user, app, data["text"], data["attachment_ids"])


@blp.route("/<int:application_id>/timeline")
class Timeline(MethodView):
    @blp.response(200, EventOut(many=True), example=ex.TIMELINE_OUT)
    @errors("application_not_found")
    def get(self, application_id: int):
        """申请进度

        Every status change, oldest first, each with a plain-Chinese text for the citizen."""
        return applications.timeline(applications.get_for_citizen(g.user, application_id))
