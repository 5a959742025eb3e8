from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.authorizations.models import FACE_REASONS, METHODS, STATUSES
from core.idnumber import mask
from miniprogram_api.schemas import StrictSchema


class RequestOut(Schema):
    id = fields.Integer(metadata={"description": "Use as {member} in the member's URLs"})
    member_name = fields.String()
    member_id_number_masked = fields.Function(lambda r: mask(r.member_id_number))
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.Function(lambda r: STATUSES[r.status])
    method = fields.String(allow_none=True, metadata={"enum": list(METHODS)})
    letter_version = fields.String()
    authorized_at = fields.DateTime(allow_none=True)


class QrOut(Schema):
    token = fields.String(metadata={"description": "Single use; only its hash is stored"})
    link = fields.String(metadata={"description": "What the QR encodes; opens the H5/mini-program page"})
    expires_at = fields.DateTime()
    png_base64 = fields.String()
    svg = fields.String()


class HandoverOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()


class LetterOut(Schema):
    member_name = fields.String()
    program = fields.String()
    program_label = fields.String()
    application_reference = fields.String()
    purpose = fields.String(metadata={"example": "家庭经济状况核对"})
    letter_version = fields.String()
    letter_hash = fields.String()
    letter_text = fields.String()
    data_categories = fields.List(fields.String())
    validity = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    method = fields.String(metadata={"enum": ["qr", "same_phone"]})
    identity_confirmed = fields.Boolean()
    face_passed = fields.Boolean()
    expires_at = fields.DateTime()


class IdentityIn(StrictSchema):
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=18))


class FramesIn(Schema):
    frames = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        metadata={"description": "3 to 5 JPEG/PNG frames while slowly turning the head"},
    )


class SignatureIn(Schema):
    signature = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "The drawn signature, PNG"}
    )


class VerificationOut(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": ["queued", "passed", "failed"]})
    reason = fields.String(allow_none=True, metadata={"enum": list(FACE_REASONS)})
    message = fields.Function(
        lambda v: (
            FACE_REASONS.get(v.reason)
            if v.reason
            else ("核验通过，请签名" if v.status == "passed" else "正在核验，请稍候")
        )
    )
