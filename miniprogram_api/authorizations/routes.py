from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.applications import services as applications
from core.authorizations import qr
from core.authorizations import services as authorizations
from miniprogram_api.authorizations.schemas import (
    FramesIn,
    HandoverOut,
    IdentityIn,
    LetterOut,
    QrOut,
    RequestOut,
    SignatureIn,
    VerificationOut,
)
from miniprogram_api.security import current_actor

blp = Blueprint(
    "authorizations",
    __name__,
    url_prefix="/api/v1",
    description="电子授权 Household members authorize the economic check: QR or same phone, face, signature",
)


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
        link = f"{current_app.config['AUTH_LINK_BASE']}?token={token}"
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


@blp.route("/authorizations/<string:token>")
class AuthorizationLetter(MethodView):
    @blp.response(200, LetterOut)
    def get(self, token: str):
        """The letter to authorize (the scanning user must be the member, logged in with real name)."""
        return authorizations.letter_view(token, g.user)


@blp.route("/authorizations/<string:token>/identity")
class AuthorizationIdentity(MethodView):
    @blp.arguments(IdentityIn)
    @blp.response(200, LetterOut)
    def post(self, data: dict, token: str):
        """Same phone: the member types their own ID number before the face check."""
        authorizations.confirm_identity(token, g.user, data["id_number"])
        return authorizations.letter_view(token, g.user)


@blp.route("/authorizations/<string:token>/face")
class AuthorizationFace(MethodView):
    @blp.arguments(FramesIn, location="files")
    @blp.response(202, VerificationOut)
    def post(self, files: dict, token: str):
        """Upload 3-5 frames; the check runs on the face queue. Poll the returned id."""
        settings = _face_settings()
        frames = [f.read(settings.max_frame_bytes + 1) for f in request.files.getlist("frames")]
        return authorizations.submit_face(
            current_actor(), token, g.user, frames, settings=settings, device=request.headers.get("User-Agent")
        )


@blp.route("/authorizations/<string:token>/face/<int:verification_id>")
class AuthorizationFaceResult(MethodView):
    @blp.response(200, VerificationOut)
    def get(self, token: str, verification_id: int):
        """The face check's result, with the reason in Chinese."""
        return authorizations.get_verification(token, g.user, verification_id)


@blp.route("/authorizations/<string:token>/signature")
class AuthorizationSignature(MethodView):
    @blp.arguments(SignatureIn, location="files")
    @blp.response(200, RequestOut)
    def post(self, files: dict, token: str):
        """The handwritten signature (PNG) completes the authorization."""
        max_bytes = current_app.config["SIGNATURE_MAX_BYTES"]
        return authorizations.sign(
            current_actor(),
            token,
            g.user,
            files["signature"].read(max_bytes + 1),
            max_bytes=max_bytes,
            device=request.headers.get("User-Agent"),
        )
