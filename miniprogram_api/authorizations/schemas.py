from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from core.authorizations.models import FACE_REASONS, METHODS, STATUSES
from core.idnumber import mask
from core.liveness.models import ACTIONS
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


AUTHORIZATION_HEADER = "X-Authorization-Token"


class TokenHeader(Schema):
    """The authorization token travels in a header, never in a URL (access logs, Referer, history)."""

    class Meta:
        unknown = EXCLUDE  # every other header

    token = fields.String(
        required=True,
        data_key=AUTHORIZATION_HEADER,
        validate=validate.Length(min=1, max=100),
        error_messages={"required": "缺少授权码，请重新扫码或由申请人重新发起"},
        metadata={"description": "The authorization token: from the QR link's `#token=` fragment or a hand-over"},
    )


class QrOut(Schema):
    token = fields.String(metadata={"description": "Single use; only its hash is stored"})
    link = fields.String(
        metadata={
            "description": (
                "What the QR encodes; opens the H5/mini-program page. The token is in the URL fragment "
                "(`#token=…`), which browsers never send to a server; the page sends it as X-Authorization-Token"
            ),
            "example": "http://127.0.0.1:5000/h5/authorize#token=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAA",
        }
    )
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


class FramesIn(StrictSchema):
    """The multipart body of a face upload: the challenge answered and the frames."""

    challenge_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "description": "The id of a challenge from POST /api/v1/authorizations/face/challenge (single use)",
            "example": "pWq0ZL8mS3y1cV7nT2kR9dXe",
        },
    )
    frames = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        metadata={
            "description": (
                "3 to 5 JPEG/PNG frames, in the order filmed, while the member performs the challenge's head "
                "turns; as the camera sensor sees them (not mirrored)"
            )
        },
    )


CHALLENGE_EXAMPLE = {
    "challenge_id": "pWq0ZL8mS3y1cV7nT2kR9dXe",
    "actions": ["turn_left", "turn_right"],
    "instructions": ["向左转头", "向右转头"],
    "expires_at": "2026-11-24T08:03:00+00:00",
}


class ChallengeOut(Schema):
    challenge_id = fields.String(
        attribute="id",
        metadata={"description": "Send with the frames; single use", "example": "pWq0ZL8mS3y1cV7nT2kR9dXe"},
    )
    actions = fields.List(
        fields.String(metadata={"enum": list(ACTIONS)}),
        metadata={
            "description": (
                "Head turns to perform, in order: turn_left = to the person's own left (the nose moves to the "
                "image's right in an unmirrored frame), turn_right = to their own right"
            )
        },
    )
    instructions = fields.Function(
        lambda c: [ACTIONS[a] for a in c.actions],
        metadata={"description": "What to show the member, in order (Chinese)", "example": ["向左转头", "向右转头"]},
    )
    expires_at = fields.DateTime(metadata={"description": "Upload the frames before this time"})


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
