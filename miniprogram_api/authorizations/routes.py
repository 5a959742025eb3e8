from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.applications import services as applications
from core.authorizations import qr
from core.authorizations import services as authorizations
from miniprogram_api import examples as ex
from miniprogram_api.authorizations.schemas import (
    ChallengeOut,
    FramesIn,
    HandoverOut,
    IdentityIn,
    LetterOut,
    MyAuthorizationOut,
    QrOut,
    RequestOut,
    SignatureIn,
    TokenHeader,
    VerificationOut,
)
from miniprogram_api.idempotency import idempotent
from miniprogram_api.openapi import errors
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


# why a token cannot be used (every token endpoint), and why the request cannot be signed now
TOKEN_REASONS = (
    "authorization_token_invalid",
    "authorization_token_revoked",
    "authorization_token_used",
    "authorization_token_expired",
)
SIGNING_TOKEN_REASONS = (
    *TOKEN_REASONS,
    "real_name_required",
    "authorization_wrong_person",
    "authorization_locked",
    "already_authorized",
    "authorization_revoked",
    "identity_not_confirmed",
)


def _face_settings() -> authorizations.FaceSettings:
    return authorizations.FaceSettings.from_config(current_app.config)


@blp.route("/applications/<int:application_id>/authorizations")
class AuthorizationList(MethodView):
    @blp.response(200, RequestOut(many=True), example=[ex.AUTH_REQUEST_OUT])
    @errors("application_not_found")
    def get(self, application_id: int):
        """家庭成员授权情况

        Each adult member's authorization of the economic check (家庭经济状况核对), as seen by the applicant
        and the proxy; `id` is the `{member}` of the member's URLs."""
        app = applications.get_for_citizen(g.user, application_id)
        return authorizations.requests_of(app)


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/qrcode")
class AuthorizationQr(MethodView):
    @blp.response(201, QrOut, example=ex.QR_OUT)
    @errors(
        "application_not_found",
        "authorization_not_found",
        "authorization_locked",
        "already_authorized",
        "authorization_revoked",
    )
    def post(self, application_id: int, member: int):
        """生成成员授权二维码

        A QR code for the member to scan with their own phone (an earlier one for the member stops
        working); valid `AUTH_QR_TTL_HOURS` (72 h by default). The link carries the token in its `#token=`
        fragment, which no server ever receives; the page sends it as `X-Authorization-Token`."""
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
    @errors("application_not_found", "authorization_not_found")
    def delete(self, application_id: int, member: int):
        """作废成员授权二维码

        Revokes the member's QR code and hand-over tokens: scanning it afterwards answers 409
        `authorization_token_revoked`."""
        app = applications.get_for_citizen(g.user, application_id)
        authorizations.revoke_qr(current_actor(), g.user, app, member)


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/handover")
class AuthorizationHandover(MethodView):
    @blp.response(201, HandoverOut, example=ex.HANDOVER_OUT)
    @errors(
        "application_not_found",
        "authorization_not_found",
        "authorization_locked",
        "already_authorized",
        "authorization_revoked",
    )
    def post(self, application_id: int, member: int):
        """本机授权（交给成员在本手机上操作）

        Same phone, many people: a short token (`AUTH_HANDOVER_TTL_MINUTES`, 15 min by default) for this
        member on this phone. The member must first type their own ID number (`POST
        /api/v1/authorizations/identity`) before the face check."""
        app = applications.get_for_citizen(g.user, application_id)
        token, expires = authorizations.start_handover(
            current_actor(), g.user, app, member, ttl_minutes=current_app.config["AUTH_HANDOVER_TTL_MINUTES"]
        )
        return {"token": token, "expires_at": expires}


@blp.route("/applications/<int:application_id>/authorizations/<int:member>/revoke")
class AuthorizationRevoke(MethodView):
    @blp.response(200, RequestOut, example={**ex.AUTH_REQUEST_OUT, "status": "revoked", "status_label": "已撤销"})
    @errors("application_not_found", "authorization_not_found", "verification_started", "authorization_revoked")
    def post(self, application_id: int, member: int):
        """撤销成员授权

        Withdraws an authorization before the data verification (信息核对) starts."""
        app = applications.get_for_citizen(g.user, application_id)
        return authorizations.revoke(current_actor(), g.user, app, member)


@blp.route("/me/authorizations")
class MyAuthorizations(MethodView):
    @blp.response(200, MyAuthorizationOut(many=True), example=[ex.MY_AUTHORIZATION_OUT])
    def get(self):
        """我的授权（作为家庭成员）

        The authorizations of the economic check that I (a verified person) was asked for or gave, in any
        household's application — whoever applied. Each can be withdrawn until the data check starts
        (`revocable`). Empty before real-name verification."""
        return authorizations.of_member(g.user)


@blp.route("/me/authorizations/<int:request_id>/revoke")
class MyAuthorizationRevoke(MethodView):
    @blp.response(200, RequestOut, example={**ex.AUTH_REQUEST_OUT, "status": "revoked", "status_label": "已撤销"})
    @errors("authorization_not_found", "verification_started", "authorization_revoked")
    def post(self, request_id: int):
        """撤回我的授权

        Withdraws my own authorization (consent can be withdrawn at any time before the data check starts),
        also when someone else applied; the applicant sees the member as 待授权 again."""
        return authorizations.revoke_as_member(current_actor(), g.user, request_id)


@blp.route("/authorizations/letter")
class AuthorizationLetter(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.response(200, LetterOut, example=ex.LETTER_OUT)
    @errors(
        *TOKEN_REASONS,
        "real_name_required",
        "authorization_wrong_person",
    )
    def get(self, headers: dict):
        """查看授权书

        The authorization letter the member is asked to sign, with what it allows and for how long. With a
        QR token the logged-in user must be the member, real-name verified (403 otherwise); with a hand-over
        token the applicant's phone is used."""
        return authorizations.letter_view(headers["token"], g.user)


@blp.route("/authorizations/identity")
class AuthorizationIdentity(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(IdentityIn, example=ex.IDENTITY_IN)
    @blp.response(200, LetterOut, example=ex.LETTER_OUT)
    @errors(
        *TOKEN_REASONS,
        "real_name_required",
        "authorization_wrong_person",
        "identity_mismatch",
    )
    def post(self, headers: dict, data: dict):
        """本机授权：成员输入本人身份证号码

        Same phone (hand-over token): the member types their own ID number, which must be the one on the
        application, before the face check. Answers the letter with `identity_confirmed: true`."""
        authorizations.confirm_identity(headers["token"], g.user, data["id_number"])
        return authorizations.letter_view(headers["token"], g.user)


@blp.route("/authorizations/face/challenge")
class AuthorizationFaceChallenge(MethodView):
    @blp.arguments(TokenHeader, location="headers")
    @blp.response(201, ChallengeOut, example=ex.CHALLENGE_OUT)
    @errors(
        *SIGNING_TOKEN_REASONS,
    )
    def post(self, headers: dict):
        """获取人脸核验动作提示（一次性挑战）

        Get a face challenge before filming.
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
    @idempotent
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(FramesIn, location=MULTIPART)
    @blp.response(202, VerificationOut, example=ex.FACE_VERIFICATION_OUT)
    @errors(
        *SIGNING_TOKEN_REASONS,
        "challenge_required",
        "challenge_invalid",
        "challenge_used",
        "challenge_expired",
    )
    def post(self, headers: dict, body: dict):
        """上传人脸核验照片

        Upload 3-5 frames answering a challenge; the check runs on the `face` queue: poll
        `GET /api/v1/authorizations/face/{verification_id}`. The frames must perform the challenge's head turns
        in order; frames that match an earlier accepted check of the same person (also re-encoded or
        mirrored) fail with reason `replay`. Send an `Idempotency-Key`: a retry after a lost response returns
        the same verification instead of failing on the spent challenge."""
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
    @blp.response(200, VerificationOut, example=ex.FACE_VERIFICATION_DONE)
    @errors(
        *TOKEN_REASONS,
        "real_name_required",
        "authorization_wrong_person",
        "verification_not_found",
    )
    def get(self, headers: dict, verification_id: int):
        """查询人脸核验结果

        The face check's result: `queued` until the worker has run it, then `passed` or `failed` with the
        reason and a Chinese `message` to show."""
        return authorizations.get_verification(headers["token"], g.user, verification_id)


@blp.route("/authorizations/signature")
class AuthorizationSignature(MethodView):
    @idempotent
    @blp.arguments(TokenHeader, location="headers")
    @blp.arguments(SignatureIn, location="files")
    @blp.response(200, RequestOut, example=ex.AUTH_REQUEST_DONE)
    @errors(
        *SIGNING_TOKEN_REASONS,
        "face_check_pending",
        "face_not_verified",
        "face_check_expired",
        "evidence_conflict",
    )
    def post(self, headers: dict, files: dict):
        """提交手写签名，完成授权

        The handwritten signature (PNG, `multipart/form-data` field `signature`) completes the
        authorization. Accepted only when the latest face check of this authorization passed, no check failed after it,
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
