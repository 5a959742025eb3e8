from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.identity.models import METHODS, REASONS, STATUSES, reason_message
from core.idnumber import mask
from miniprogram_api.schemas import StrictSchema


class RoleSchema(Schema):
    role = fields.String(metadata={"enum": ["grid_worker", "volunteer", "social_worker", "official"]})
    label = fields.String()
    region_code = fields.String()


class LoginSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["sms", "wechat"], "description": "how this log-in signs in"})
    phone_masked = fields.String(allow_none=True, metadata={"example": "138****0001"})
    wechat_bound = fields.Boolean()
    current = fields.Boolean(metadata={"description": "the log-in making this request"})


class ClaimSchema(Schema):
    name = fields.String()
    id_number_masked = fields.String(metadata={"example": "3601**********1234"})
    status = fields.String(metadata={"enum": ["pending", "verifying"]})
    rebind = fields.Boolean(metadata={"description": "replaces an already verified identity"})


class MeSchema(Schema):
    id = fields.Integer()
    phone_masked = fields.String(allow_none=True)
    wechat_bound = fields.Boolean()
    real_name_status = fields.String(
        metadata={
            "enum": ["unverified", "claimed", "verifying", "verified"],
            "description": "unverified: nothing stated; claimed: name and ID number stated, not yet proven "
            "(drafts only); verifying: a face check is running; verified: may submit and act for this ID number",
        }
    )
    real_name_status_label = fields.String(metadata={"example": "已实名核验"})
    real_name = fields.String(allow_none=True)
    id_number_masked = fields.String(allow_none=True, metadata={"example": "3601**********1234"})
    verified_at = fields.DateTime(allow_none=True)
    verification_method = fields.String(allow_none=True, metadata={"enum": list(METHODS)})
    verification_methods = fields.List(
        fields.String(metadata={"enum": list(METHODS)}),
        metadata={"description": "methods this log-in can use now (window: at the township office)"},
    )
    claim = fields.Nested(ClaimSchema, allow_none=True)
    linked_logins = fields.List(
        fields.Nested(LoginSchema), metadata={"description": "every log-in verified for the same person"}
    )
    roles = fields.List(fields.Nested(RoleSchema), metadata={"description": "Reporter roles; every user is a citizen"})


class RealNameIn(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=2, max=50, error="姓名为2-50个字符"),
        metadata={"example": "张三"},
    )
    id_number = fields.String(
        required=True,
        validate=validate.Length(max=18, error="身份证号码为18位"),
        metadata={"description": "18-character resident ID number", "example": "360124198001010016"},
    )
    rebind_reason = fields.String(
        load_default=None,
        validate=validate.Length(max=200, error="原因不超过200字"),
        metadata={"description": "required when the account is already verified for another ID number"},
    )


class VerifyIn(StrictSchema):
    method = fields.String(
        required=True,
        validate=validate.OneOf(["id_service", "platform"], error="请选择核验方式"),
        metadata={"description": "id_service: name + ID number + this phone; platform: WeChat real name"},
    )
    code = fields.String(
        load_default=None,
        validate=validate.Length(max=128),
        metadata={"description": "platform: the code from the mini-program's real-name prompt"},
    )


class RealNameFramesIn(StrictSchema):
    """The multipart body of a real-name face check: the challenge answered and the frames."""

    challenge_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "description": "The id of a challenge from POST /api/v1/me/real-name/face/challenge (single use)",
            "example": "pWq0ZL8mS3y1cV7nT2kR9dXe",
        },
    )
    frames = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        metadata={
            "description": "3 to 5 JPEG/PNG frames, in the order filmed, performing the challenge's head turns; "
            "as the camera sensor sees them (not mirrored)"
        },
    )


class RealNameVerificationOut(Schema):
    id = fields.Integer()
    method = fields.String(allow_none=True, metadata={"enum": list(METHODS)})
    method_label = fields.Function(lambda v: METHODS.get(v.method or "", ""))
    status = fields.String(metadata={"enum": list(STATUSES)})
    status_label = fields.Function(lambda v: STATUSES[v.status])
    reason = fields.String(allow_none=True, metadata={"enum": list(REASONS)})
    reason_message = fields.Function(lambda v: reason_message(v.method, v.reason), allow_none=True)
    name = fields.String(attribute="claimed_name")
    id_number_masked = fields.Function(lambda v: mask(v.claimed_id_number))
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
