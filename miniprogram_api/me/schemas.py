from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.identity.models import METHODS, REASONS, STATUSES, reason_message
from core.idnumber import mask
from miniprogram_api.schemas import StrictSchema


class RoleSchema(Schema):
    role = fields.String(
        metadata={"enum": ["grid_worker", "volunteer", "social_worker", "official"], "description": "Reporter role"}
    )
    label = fields.String(metadata={"description": "Role, Chinese", "example": "网格员"})
    region_code = fields.String(metadata={"description": "Where the role holds (township or village code)"})


class LoginSchema(Schema):
    id = fields.Integer(metadata={"description": "Account id of the log-in"})
    kind = fields.String(metadata={"enum": ["sms", "wechat", "alipay"], "description": "How this log-in signs in"})
    phone_masked = fields.String(allow_none=True, metadata={"description": "Masked phone", "example": "138****0001"})
    wechat_bound = fields.Boolean(metadata={"description": "A WeChat openid is linked"})
    current = fields.Boolean(metadata={"description": "The log-in making this request"})


class ClaimSchema(Schema):
    name = fields.String(metadata={"description": "The name stated"})
    id_number_masked = fields.String(
        metadata={"description": "The ID number stated, masked", "example": "3601**********1234"}
    )
    status = fields.String(
        metadata={"enum": ["pending", "verifying"], "description": "pending: waiting for a method; verifying: running"}
    )
    rebind = fields.Boolean(metadata={"description": "Replaces an already verified identity"})


class MeSchema(Schema):
    id = fields.Integer(metadata={"description": "Account id"})
    phone_masked = fields.String(
        allow_none=True, metadata={"description": "Phone of this log-in, masked (null for a WeChat log-in)"}
    )
    wechat_bound = fields.Boolean(metadata={"description": "A WeChat openid is linked to this log-in"})
    real_name_status = fields.String(
        metadata={
            "enum": ["unverified", "claimed", "verifying", "verified"],
            "description": "unverified: nothing stated; claimed: name and ID number stated, not yet proven "
            "(drafts only); verifying: a face check is running; verified: may submit and act for this ID number",
        }
    )
    real_name_status_label = fields.String(
        metadata={"description": "Real-name status, Chinese", "example": "已实名核验"}
    )
    real_name = fields.String(allow_none=True, metadata={"description": "Verified name (null until verified)"})
    id_number_masked = fields.String(
        allow_none=True, metadata={"description": "Verified ID number, masked", "example": "3601**********1234"}
    )
    verified_at = fields.DateTime(allow_none=True, metadata={"description": "When the real name was verified (UTC)"})
    verification_method = fields.String(
        allow_none=True, metadata={"enum": list(METHODS), "description": "How it was verified"}
    )
    verification_methods = fields.List(
        fields.String(metadata={"enum": list(METHODS)}),
        metadata={"description": "methods this log-in can use now (window: at the township office)"},
    )
    claim = fields.Nested(
        ClaimSchema, allow_none=True, metadata={"description": "A stated name and ID number not yet verified"}
    )
    linked_logins = fields.List(
        fields.Nested(LoginSchema), metadata={"description": "every log-in verified for the same person"}
    )
    roles = fields.List(fields.Nested(RoleSchema), metadata={"description": "Reporter roles; every user is a citizen"})


class RealNameIn(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=2, max=50, error="姓名为2-50个字符"),
        metadata={"description": "Name as on the resident ID card", "example": "张建国"},
    )
    id_number = fields.String(
        required=True,
        validate=validate.Length(max=18, error="身份证号码为18位"),
        metadata={
            "description": "18-character resident ID number (GB 11643 check digit)",
            "example": "360124196204180118",
        },
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
        metadata={
            "enum": ["id_service", "platform"],
            "description": "id_service: name + ID number + this phone; platform: WeChat real name",
        },
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
    id = fields.Integer(metadata={"description": "Verification id ({verification_id})"})
    method = fields.String(allow_none=True, metadata={"enum": list(METHODS), "description": "Method used"})
    method_label = fields.Function(
        lambda v: METHODS.get(v.method or "", ""), metadata={"type": "string", "description": "Method, Chinese"}
    )
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Where the verification stands"})
    status_label = fields.Function(
        lambda v: STATUSES[v.status], metadata={"type": "string", "description": "Status, Chinese"}
    )
    reason = fields.String(
        allow_none=True, metadata={"enum": [*REASONS, None], "description": "Why it failed (null otherwise)"}
    )
    reason_message = fields.Function(
        lambda v: reason_message(v.method, v.reason),
        allow_none=True,
        metadata={"type": "string", "description": "Why it failed, Chinese: show it to the user"},
    )
    name = fields.String(attribute="claimed_name", metadata={"description": "The name checked"})
    id_number_masked = fields.Function(
        lambda v: mask(v.claimed_id_number), metadata={"type": "string", "description": "The ID number checked, masked"}
    )
    created_at = fields.DateTime(metadata={"description": "Started at (UTC)"})
    finished_at = fields.DateTime(allow_none=True, metadata={"description": "Finished at (UTC); null while running"})
