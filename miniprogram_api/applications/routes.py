from __future__ import annotations

from flask import current_app, g, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters

from core.applications import services as applications
from core.files import storage
from miniprogram_api.applications.schemas import (
    ApplicationOut,
    ApplicationSummary,
    AttachmentOut,
    CorrectionIn,
    CreateIn,
    DraftFields,
    EventOut,
    ListQuery,
    UploadFile,
    UploadForm,
    WithdrawIn,
)
from miniprogram_api.idempotency import idempotent
from miniprogram_api.security import current_actor

blp = Blueprint(
    "applications",
    __name__,
    url_prefix="/api/v1/applications",
    description="救助申请 Relief applications: drafts, materials, submit, progress",
)


def _accept_days() -> int:
    return current_app.config["DEFAULT_ACCEPT_WORKING_DAYS"]


@blp.route("")
class ApplicationList(MethodView):
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, ApplicationSummary(many=True))
    @blp.paginate()
    def get(self, args: dict, pagination_parameters: PaginationParameters):
        """My applications (as applicant, as proxy, or as the principal of a proxy application)."""
        page = applications.list_for_citizen(
            g.user,
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            status=args.get("status"),
        )
        pagination_parameters.item_count = page.total
        return page.items

    @idempotent
    @blp.arguments(CreateIn)
    @blp.response(201, ApplicationOut)
    @blp.alt_response(403, description="Real-name binding required first (status real_name_required)")
    def post(self, data: dict):
        """Create a draft, for myself or — with `on_behalf_of` — as a proxy (代办)."""
        program = data.pop("program")
        on_behalf_of = data.pop("on_behalf_of", None)
        return applications.create_draft(current_actor(), g.user, program, on_behalf_of=on_behalf_of, fields=data)


@blp.route("/<int:application_id>")
class ApplicationDetail(MethodView):
    @blp.response(200, ApplicationOut)
    def get(self, application_id: int):
        """One of my applications (another user's → 404)."""
        return applications.get_for_citizen(g.user, application_id)

    @blp.arguments(DraftFields)
    @blp.response(200, ApplicationOut)
    @blp.alt_response(409, description="No longer a draft")
    def patch(self, data: dict, application_id: int):
        """Save partial edits of a draft (lists given replace the stored lists)."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.update_draft(current_actor(), g.user, app, data)

    @blp.response(204)
    @blp.alt_response(409, description="Not a draft (withdraw a submitted application instead)")
    def delete(self, application_id: int):
        """Delete a draft and its materials."""
        app = applications.get_for_citizen(g.user, application_id)
        applications.delete_draft(current_actor(), g.user, app)


@blp.route("/<int:application_id>/attachments")
class AttachmentList(MethodView):
    @blp.response(200, AttachmentOut(many=True))
    def get(self, application_id: int):
        """Materials uploaded for the application."""
        return applications.attachments_of(applications.get_for_citizen(g.user, application_id))

    @blp.arguments(UploadForm, location="form")
    @blp.arguments(UploadFile, location="files")
    @blp.response(201, AttachmentOut)
    def post(self, form: dict, files: dict, application_id: int):
        """Upload a material (JPEG/PNG/PDF, checked by content; images re-encoded without EXIF)."""
        app = applications.get_for_citizen(g.user, application_id)
        upload = files["file"]
        data = upload.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)
        return applications.add_attachment(
            current_actor(),
            g.user,
            app,
            form["material"],
            data,
            upload.filename,
            max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
        )


@blp.route("/<int:application_id>/attachments/<int:attachment_id>")
class AttachmentDetail(MethodView):
    @blp.response(200, description="The file itself", content_type="application/octet-stream")
    def get(self, application_id: int, attachment_id: int):
        """Download a material (owner only)."""
        app = applications.get_for_citizen(g.user, application_id)
        attachment = applications.get_attachment(app, attachment_id)
        return send_file(
            storage.open_path(attachment.storage_key),
            mimetype=attachment.content_type,
            download_name=attachment.original_name,
            as_attachment=True,
        )

    @blp.response(204)
    def delete(self, application_id: int, attachment_id: int):
        """Remove a material from a draft (or one added during a correction, before replying)."""
        app = applications.get_for_citizen(g.user, application_id)
        applications.delete_attachment(current_actor(), g.user, app, attachment_id)


@blp.route("/<int:application_id>/submit")
class Submit(MethodView):
    @idempotent
    @blp.response(200, ApplicationOut)
    @blp.alt_response(
        409,
        description="Already submitted, or this account already has an open application of the program for the same "
        "applicant (duplicate_application). A member named in another household's application is never a 409.",
    )
    @blp.alt_response(422, description="Incomplete or invalid: field-level messages")
    def post(self, application_id: int):
        """Submit: full validation, then routing to the residence township (户籍 township informed)."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.submit(current_actor(), g.user, app, default_accept_days=_accept_days())


@blp.route("/<int:application_id>/withdraw")
class Withdraw(MethodView):
    @idempotent
    @blp.arguments(WithdrawIn)
    @blp.response(200, ApplicationOut)
    def post(self, data: dict, application_id: int):
        """Withdraw before a decision, with a reason."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.withdraw(current_actor(), g.user, app, data["reason"])


@blp.route("/<int:application_id>/corrections")
class Corrections(MethodView):
    @idempotent
    @blp.arguments(CorrectionIn)
    @blp.response(200, ApplicationOut)
    def post(self, data: dict, application_id: int):
        """Reply to a correction request (补正): text and materials uploaded meanwhile."""
        app = applications.get_for_citizen(g.user, application_id)
        return applications.reply_correction(current_actor(), g.user, app, data["text"], data["attachment_ids"])


@blp.route("/<int:application_id>/timeline")
class Timeline(MethodView):
    @blp.response(200, EventOut(many=True))
    def get(self, application_id: int):
        """Every status change, oldest first, in plain Chinese."""
        return applications.timeline(applications.get_for_citizen(g.user, application_id))
