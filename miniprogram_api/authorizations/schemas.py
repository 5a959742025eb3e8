from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from core.authorizations.models import FACE_REASONS, METHODS, STATUSES
from core.idnumber import mask
from core.liveness.models import ACTIONS
from miniprogram_api.schemas import StrictSchema


class RequestOut(Schema):
    id = fields.Integer(metadata={"description": "Use as {member} in the member's URLs"})
    member_name = fields.String(metadata={"description": "The member's name"})
    member_id_number_masked = fields.Function(
        lambda r: mask(r.member_id_number), metadata={"type": "string", "description": "The member's ID number, masked"}
    )
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Where the authorization stands"})
    status_label = fields.Function(
        lambda r: STATUSES[r.status], metadata={"type": "string", "description": "Status, Chinese"}
    )
    method = fields.String(
        allow_none=True, metadata={"enum": [*METHODS, None], "description": "How it was given (null until then)"}
    )
    letter_version = fields.String(metadata={"description": "Version of the letter text", "example": "2026-01"})
    authorized_at = fields.DateTime(allow_none=True, metadata={"description": "Signed at (UTC)"})


class MyAuthorizationOut(Schema):
    """One of my own authorizations, in whichever household's application it was asked for."""

    request = fields.Nested(RequestOut, metadata={"description": "The authorization; `id` is the {request_id}"})
    application_reference = fields.String(metadata={"description": "The application's reference"})
    program_label = fields.String(metadata={"description": "The programme, Chinese"})
    applicant_name = fields.String(metadata={"description": "Who applied (the household's applicant)"})
    revocable = fields.Boolean(
        metadata={"description": "Whether it can still be withdrawn (until the data check starts)"}
    )


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
    token = fields.String(metadata={"description": "The authorization token; only its hash is stored"})
    link = fields.String(
        metadata={
            "description": (
                "What the QR encodes; opens the H5/mini-program page. The token is in the URL fragment "
                "(`#token=…`), which browsers never send to a server; the page sends it as X-Authorization-Token"
            ),
            "example": "http://127.0.0.1:5000/h5/authorize#token=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAA",
        }
    )
    expires_at = fields.DateTime(metadata={"description": "The QR stops working then (UTC)"})
    png_base64 = fields.String(metadata={"description": "The QR code as a PNG, base64 (show as data:image/png)"})
    svg = fields.String(metadata={"description": "The QR code as SVG markup"})


class HandoverOut(Schema):
    token = fields.String(metadata={"description": "Send as X-Authorization-Token for this member, on this phone"})
    expires_at = fields.DateTime(metadata={"description": "The hand-over ends then (UTC)"})


class LetterOut(Schema):
    member_name = fields.String(metadata={"description": "The member asked to authorize"})
    program = fields.String(metadata={"description": "Program of the application", "example": "dibao"})
    program_label = fields.String(metadata={"description": "Program, Chinese", "example": "最低生活保障"})
    application_reference = fields.String(metadata={"description": "Reference of the application"})
    purpose = fields.String(metadata={"description": "What the authorization is for", "example": "家庭经济状况核对"})
    letter_version = fields.String(metadata={"description": "Version of the letter text"})
    letter_hash = fields.String(metadata={"description": "SHA-256 of the letter text (kept with the evidence)"})
    letter_text = fields.String(metadata={"description": "The full letter (Chinese): show it before signing"})
    data_categories = fields.List(
        fields.String(), metadata={"description": "Kinds of data the check may query (Chinese)"}
    )
    validity = fields.String(metadata={"description": "How long the authorization holds (Chinese)"})
    status = fields.String(metadata={"enum": list(STATUSES), "description": "Where the authorization stands"})
    method = fields.String(
        metadata={"enum": ["qr", "same_phone"], "description": "qr: the member's own phone; same_phone: a hand-over"}
    )
    identity_confirmed = fields.Boolean(
        metadata={"description": "Same phone: the member typed their ID number (always true for a QR)"}
    )
    face_passed = fields.Boolean(metadata={"description": "A face check passed: the signature may follow"})
    expires_at = fields.DateTime(metadata={"description": "The token stops working then (UTC)"})


class IdentityIn(StrictSchema):
    id_number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=18),
        metadata={"description": "The member's own 18-character ID number, typed by them"},
    )


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
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "description": "What to show the member, in order (Chinese)",
            "example": ["向左转头", "向右转头"],
        },
    )
    expires_at = fields.DateTime(metadata={"description": "Upload the frames before this time (UTC)"})


class SignatureIn(Schema):
    signature = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "The drawn signature, PNG (at most SIGNATURE_MAX_BYTES, 512 KiB)",
        },
    )


class VerificationOut(Schema):
    id = fields.Integer(metadata={"description": "Face check id ({verification_id})"})
    status = fields.String(
        metadata={"enum": ["queued", "passed", "failed"], "description": "queued until the face worker ran it"}
    )
    reason = fields.String(
        allow_none=True, metadata={"enum": [*FACE_REASONS, None], "description": "Why it failed (null otherwise)"}
    )
    message = fields.Function(
        lambda v: (
            FACE_REASONS.get(v.reason)
            if v.reason
            else ("核验通过，请签名" if v.status == "passed" else "正在核验，请稍候")
        ),
        metadata={"type": "string", "description": "What to show the member (Chinese)"},
    )
