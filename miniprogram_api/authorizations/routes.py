from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.applications import services as applications
from core.authorizations import qr
from core.authorizations import services as authorizations
from miniprogram_api.authorizations.schemas import (
    CHALLENGE_EXAMPLE,
    ChallengeOut,
    FramesIn,
    HandoverOut,
    IdentityIn,
    LetterOut,
    QrOut,
    RequestOut,
    SignatureIn,
    TokenHeader,
    VerificationOut,
)
from miniprogram_api.schemas import MULTIPART, MULTIPART_CONTENT_TYPES
from miniprogram_api.security import current_actor

blp = Blueprint(
    "authorizations",
    __name__,
    url_prefix="/api/v1",
    description=(
        "电子授权 Household members authorize the economic check: QR or same phone, face, signature. "
        "The authorization token (from the QR link's `#token=` fragment or a hand-over) travels in the "
        "`X-Authorization-Token` header, never in a URL."
    ),
)
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    **MULTIPART_CONTENT_TYPES,
}


def _face_settings() -> authorizations.FaceSettings:
    return authorizations.FaceSettings.from_config(current_app.config)


@blp.route("/applications/<int:application_id>/authorizations")
class AuthorizationList(MethodView):
    @blp.response(200, RequestOut(many=True))
    def get(self, application_id: int):
        """Each adult member's authorization state (applicant and proxy see it)."""
        app = applications.get_for_citizen(g.user, application_id)
        return authorizations.requests_of(app)


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/qrcode")
class AuthorizationQr(MethodView):
    @blp.response(201, QrOut)
    def post(self, application_id: int, member: int):
        """A QR code for the member's own phone (an earlier one stops working). Valid 72 h by default."""
        app = applications.get_for_citizen(g.user, application_id)
        token, expires = authorizations.issue_qr(
            current_actor(), g.user, app, member, ttl_hours=current_app.config["AUTH_QR_TTL_HOURS"]
        )
        # the token rides in the URL fragment: browsers never send it to a server, so no access log sees it
        link = f"{current_app.config['AUTH_LINK_BASE']}#token={token}"
        return {
            "token": token,
            "link": link,
            "expires_at": expires,
            "png_base64": qr.png_base64(link),
            "svg": qr.svg(link),
        }

    @blp.response(204)
    def delete(self, application_id: int, member: int):
        """Revoke the member's QR code."""
        app = applications.get_for_citizen(g.user, application_id)
        authorizations.revoke_qr(current_actor(), g.user, app, member)


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/handover")
class AuthorizationHandover(MethodView):
    @blp.response(201, HandoverOut)
    def post(self, application_id: int, member: int):
        """Same phone, many people: a short session for this member on this phone."""
        app = applications.get_for_citizen(g.user, application_id)
        token, expires = authorizations.start_handover(
            current_actor(), g.user, app, member, ttl_minutes=current_app.config["AUTH_HANDOVER_TTL_MINUTES"]
        )
        return {"token": token, "expires_at": expires}


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/revoke")
class AuthorizationRevoke(MethodView):
    @blp.response(200, RequestOut)
    def post(self, application_id: int, member: int):
        """Withdraw an authorization before the data verification starts."""
        app = applications.get_for_citizen(g.user, application_id)
        return authorizations.revoke(current_actor(), g.user, app, member)


@blp.route("/authorizations/letter")
class AuthorizationLetter(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.response(200, LetterOut)
    def get(self, headers: dict):
        """The letter to authorize (the scanning user must be the member, logged in with real name)."""
        return authorizations.letter_view(headers["token"], g.user)


@blp.route("/authorizations/identity")
class AuthorizationIdentity(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(IdentityIn)
    @blp.response(200, LetterOut)
    def post(self, headers: dict, data: dict):
        """Same phone: the member types their own ID number before the face check."""
        authorizations.confirm_identity(headers["token"], g.user, data["id_number"])
        return authorizations.letter_view(headers["token"], g.user)


@blp.route("/authorizations/face/challenge")
class AuthorizationFaceChallenge(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.response(201, ChallengeOut, example=CHALLENGE_EXAMPLE)
    @blp.alt_response(404, description="授权链接无效 (authorization_token_invalid)")
    @blp.alt_response(409, description="已授权、已锁定、已撤销，或同一手机授权尚未确认身份 (identity_not_confirmed)")
    def post(self, headers: dict):
        """获取人脸核验动作提示（一次性挑战） Get a face challenge before filming

        The server picks the order of two head turns (`turn_left` = the person turns to their own left,
        `turn_right` to their own right; a blink is not offered: the landmark model in use cannot see
        eyelids). Show `instructions` in order, film 3-5 frames while the member follows them, and upload
        the frames with `challenge_id` to `POST /api/v1/authorizations/face` within `expires_at`
        (`FACE_CHALLENGE_TTL_SECONDS`, 180 s by default). The challenge is single use and bound to this
        authorization and to the log-in session (access token) that asked for it. Send frames as the camera
        sensor sees them, never the mirrored preview."""
        return authorizations.face_challenge(
            current_actor(), headers["token"], g.user, g.auth_session.id, settings=_face_settings()
        )


@blp.route("/authorizations/face")
class AuthorizationFace(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(FramesIn, location=MULTIPART)
    @blp.response(202, VerificationOut)
    @blp.alt_response(404, description="动作提示无效：不存在，或属于其他授权或其他登录会话 (challenge_invalid)")
    @blp.alt_response(409, description="动作提示已使用 (challenge_used) 或已过期 (challenge_expired)")
    def post(self, headers: dict, body: dict):
        """Upload 3-5 frames answering a challenge; the check runs on the face queue. Poll the returned id.

        The frames must perform the challenge's head turns in order; frames that match an earlier accepted
        check of the same person (also re-encoded or mirrored) fail with reason `replay`."""
        settings = _face_settings()
        frames = [f.read(settings.max_frame_bytes + 1) for f in request.files.getlist("frames")]
        return authorizations.submit_face(
            current_actor(),
            headers["token"],
            g.user,
            frames,
            challenge_id=body["challenge_id"],
            session_id=g.auth_session.id,
            settings=settings,
            device=request.headers.get("User-Agent"),
        )


@blp.route("/authorizations/face/<int:verification_id>")
class AuthorizationFaceResult(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.response(200, VerificationOut)
    def get(self, headers: dict, verification_id: int):
        """The face check's result, with the reason in Chinese."""
        return authorizations.get_verification(headers["token"], g.user, verification_id)


@blp.route("/authorizations/signature")
class AuthorizationSignature(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(SignatureIn, location="files")
    @blp.response(200, RequestOut)
    @blp.alt_response(
        409,
        description=(
            "人脸核验未通过或之后又有失败 (face_not_verified)、超过签名时限 (face_check_expired)、"
            "其他成员同时授权，可直接重试 (evidence_conflict)"
        ),
    )
    def post(self, headers: dict, files: dict):
        """The handwritten signature (PNG) completes the authorization.

        Accepted only when the latest face check of this authorization passed, no check failed after it,
        and it finished within `FACE_SIGN_WINDOW_SECONDS` (600 s by default)."""
        cfg = current_app.config
        max_bytes = cfg["SIGNATURE_MAX_BYTES"]
        return authorizations.sign(
            current_actor(),
            headers["token"],
            g.user,
            files["signature"].read(max_bytes + 1),
            max_bytes=max_bytes,
            face_window_seconds=cfg["FACE_SIGN_WINDOW_SECONDS"],
            device=request.headers.get("User-Agent"),
        )
