"""资格转移: a recipient household whose 户籍 moved to another county of the province asks for its benefit
to follow it (core.registry.transfers)."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.registry import transfers
from miniprogram_api import examples as ex
from miniprogram_api.idempotency import idempotent
from miniprogram_api.me_transfers.schemas import TransferOut, TransferRequestForm
from miniprogram_api.openapi import errors
from miniprogram_api.schemas import MULTIPART, MULTIPART_CONTENT_TYPES
from miniprogram_api.security import current_actor

blp = Blueprint(
    "me_transfers",
    __name__,
    url_prefix="/api/v1/me",
    description="资格转移 Eligibility transfers: my household's benefit follows a 户籍 move inside the province",
)
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    **MULTIPART_CONTENT_TYPES,
}


@blp.route("/benefits/<int:enrollment_id>/transfer")
class RequestTransfer(MethodView):
    @idempotent
    @blp.arguments(TransferRequestForm, location=MULTIPART)
    @blp.response(201, TransferOut, example=ex.TRANSFER_REQUESTED_OUT)
    @errors("benefit_not_found", "transfer_open", "transfer_not_allowed", "pdf_active_content", "validation_failed")
    def post(self, body: dict, enrollment_id: int):
        """申请资格转移

        A `multipart/form-data` body: `to_township_code` (a township of another county of the same province),
        optional `to_village_code` and `to_address`, `reason`, and one `file`, the new 户口簿 page (JPEG, PNG or
        PDF by content, at most `MAX_UPLOAD_BYTES`). The old county then confirms the last month it pays and
        the new county accepts; no new application is needed. Another province or the same county is a 422 on
        `to_township_code`; a transfer already in progress is 409 `transfer_open`; another household's benefit
        is 404. Send an `Idempotency-Key`: a retry creates one transfer."""
        upload = request.files.get("file")
        max_bytes = current_app.config["MAX_UPLOAD_BYTES"]
        data = upload.read(max_bytes + 1) if upload is not None else None
        return transfers.citizen_view(
            transfers.request_by_household(
                current_actor(),
                g.user,
                enrollment_id,
                to_township_code=body["to_township_code"],
                to_village_code=body.get("to_village_code"),
                to_address=body.get("to_address"),
                reason=body["reason"],
                data=data,
                filename=upload.filename if upload is not None else None,
                max_bytes=max_bytes,
            ),
            g.user,
        )


@blp.route("/transfers")
class MyTransfers(MethodView):
    @blp.response(200, TransferOut(many=True), example=[ex.TRANSFER_OUT])
    def get(self):
        """我的资格转移

        The transfers of every benefit that covers me (requested by me or by another member, or started by the
        new township), newest first, at most 100. Empty before real-name verification."""
        return transfers.list_for_citizen(g.user)


@blp.route("/transfers/<int:transfer_id>")
class MyTransfer(MethodView):
    @blp.response(200, TransferOut, example=ex.TRANSFER_OUT)
    @errors("transfer_not_found")
    def get(self, transfer_id: int):
        """资格转移详情

        One transfer with where it stands in plain words (`text`), the old county's last month and the new
        county's first month once confirmed, and a refusal's reason. Another household's → 404."""
        return transfers.citizen_view(transfers.get_for_citizen(g.user, transfer_id), g.user)


@blp.route("/transfers/<int:transfer_id>/cancel")
class CancelTransfer(MethodView):
    @idempotent
    @blp.response(200, TransferOut, example=ex.TRANSFER_CANCELLED_OUT)
    @errors("transfer_not_found", "forbidden", "transfer_not_cancellable")
    def post(self, transfer_id: int):
        """撤回资格转移

        Withdraws my request while the old county has not confirmed it (409 `transfer_not_cancellable` after);
        only the person who asked may withdraw (403 `forbidden`). The benefit stays where it is."""
        return transfers.citizen_view(transfers.cancel_by_household(current_actor(), g.user, transfer_id), g.user)
