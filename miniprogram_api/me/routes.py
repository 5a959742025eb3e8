from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.accounts import services as accounts
from core.accounts.models import User
from core.errors import ServiceUnavailable, ValidationFailed
from core.identity import services as identity
from core.idnumber import mask
from miniprogram_api import examples as ex
from miniprogram_api.authorizations.schemas import ChallengeOut
from miniprogram_api.idempotency import idempotent
from miniprogram_api.me.schemas import MeSchema, RealNameFramesIn, RealNameIn, RealNameVerificationOut, VerifyIn
from miniprogram_api.openapi import errors
from miniprogram_api.schemas import MULTIPART, MULTIPART_CONTENT_TYPES
from miniprogram_api.security import current_actor

blp = Blueprint(
    "me", __name__, url_prefix="/api/v1/me", description="我的 The logged-in user and real-name verification"
)
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
    **MULTIPART_CONTENT_TYPES,
}

STATUS_LABELS = {"unverified": "未实名", "claimed": "待核验", "verifying": "核验中", "verified": "已实名核验"}


def _settings() -> identity.IdentitySettings:
    return identity.IdentitySettings.from_config(current_app.config)


def _methods(user: User) -> list[str]:
    methods = ["face"]
    if user.phone and current_app.extensions["identity_service"] is not None:
        methods.append("id_service")
    if user.wechat_openid and current_app.extensions["platform_identity"] is not None:
        methods.append("platform")
    return [*methods, "window"]


def _me(user: User) -> dict:
    state = identity.real_name_state(user)
    status, claim, passed = state.status, state.claim, state.verification
    return {
        "id": user.id,
        "phone_masked": accounts.mask_phone(user.phone),
        "wechat_bound": bool(user.wechat_openid),
        "real_name_status": status,
        "real_name_status_label": STATUS_LABELS[status],
        "real_name": user.real_name if status == "verified" else None,
        "id_number_masked": mask(user.id_number),
        "verified_at": user.real_name_bound_at if status == "verified" else None,
        "verification_method": passed.method if passed else None,
        "verification_methods": _methods(user),
        "claim": {
            "name": claim.claimed_name,
            "id_number_masked": mask(claim.claimed_id_number),
            "status": claim.status,
            "rebind": bool(claim.rebind_reason),
        }
        if claim
        else None,
        "linked_logins": [
            {
                "id": u.id,
                "kind": "sms" if u.phone else ("wechat" if u.wechat_openid else "alipay"),
                "phone_masked": accounts.mask_phone(u.phone),
                "wechat_bound": bool(u.wechat_openid),
                "current": u.id == user.id,
            }
            for u in identity.linked_logins(user)
        ],
        "roles": accounts.user_roles(user),
    }


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema, example=ex.ME_OUT)
    def get(self):
        """我的信息：实名核验状态、关联的登录方式、报告人角色

        The logged-in user: real-name status and the verification methods this log-in can use now, every
        log-in linked to the same person, and reporter roles (grid worker, volunteer, …)."""
        return _me(g.user)


@blp.route("/real-name")
class RealName(MethodView):
    @blp.arguments(RealNameIn, example=ex.REAL_NAME_IN)
    @blp.response(200, MeSchema, example=ex.ME_CLAIMED_OUT)
    @errors("real_name_already_verified", "rebind_too_soon", "rebind_reason_required")
    def post(self, data: dict):
        """填写实名信息（待核验）

        States the name and ID number to verify (GB 11643 check digit). Nothing tied to an ID number opens
        until a verification passes: drafts may be filled in, but not submitted; applications found by ID
        number, household-member authorizations and submission need `real_name_status = verified`."""
        identity.claim(
            current_actor(),
            g.user,
            data["name"],
            data["id_number"],
            rebind_reason=data.get("rebind_reason"),
            settings=_settings(),
        )
        return _me(g.user)


@blp.route("/real-name/verify")
class RealNameVerify(MethodView):
    @blp.arguments(VerifyIn, example=ex.VERIFY_IN)
    @blp.response(200, RealNameVerificationOut, example=ex.REAL_NAME_VERIFICATION_OUT)
    @errors(
        "real_name_claim_required",
        "real_name_verifying",
        "phone_required",
        "wechat_required",
        "real_name_attempts_exceeded",
        "identity_service_down",
        "identity_service_disabled",
        "platform_down",
        "platform_disabled",
    )
    def post(self, data: dict):
        """实名核验：身份核验服务或微信实名

        `id_service`: the provincial identity service checks name + ID number + this log-in's phone (the
        carrier's real-name record). `platform`: the WeChat real-name identity of this log-in. A failed check
        answers 200 with `status = failed` and a Chinese `reason_message`; the claim stays open for another
        method."""
        if data["method"] == "id_service":
            service = current_app.extensions["identity_service"]
            if service is None:
                raise ServiceUnavailable("身份核验服务未开通，请换用人脸核验", code="identity_service_disabled")
            return identity.verify_by_service(current_actor(), g.user, service, settings=_settings())
        platform = current_app.extensions["platform_identity"]
        if platform is None:
            raise ServiceUnavailable("微信实名核验未开通，请换用其他方式", code="platform_disabled")
        return identity.verify_by_platform(current_actor(), g.user, platform, data.get("code"), settings=_settings())


@blp.route("/real-name/face/challenge")
class RealNameFaceChallenge(MethodView):
    @blp.response(201, ChallengeOut, example=ex.CHALLENGE_OUT)
    @errors("real_name_claim_required", "real_name_verifying")
    def post(self):
        """获取人脸核验动作提示（一次性挑战）

        The server picks the order of two head turns; show `instructions` in order, film 3-5 frames and send
        them with `challenge_id` to `POST /api/v1/me/real-name/face` before `expires_at`. Single use, bound
        to this account and this log-in session."""
        return identity.face_challenge(
            g.user, g.auth_session.id, ttl_seconds=current_app.config["FACE_CHALLENGE_TTL_SECONDS"]
        )


@blp.route("/real-name/face")
class RealNameFace(MethodView):
    @idempotent
    @blp.arguments(RealNameFramesIn, location=MULTIPART)
    @blp.response(202, RealNameVerificationOut, example=ex.REAL_NAME_FACE_OUT)
    @errors(
        "real_name_claim_required",
        "real_name_verifying",
        "real_name_attempts_exceeded",
        "challenge_required",
        "challenge_invalid",
        "challenge_used",
        "challenge_expired",
    )
    def post(self, body: dict):
        """实名核验：人脸比对（与公安人口库参考照片）

        3-5 frames performing the challenge's head turns; compared on the `face` queue with the reference
        portrait of the claimed ID number (replayed frames fail with reason `replay`). Poll
        `GET /me/real-name/verifications/{id}`. Non-face alternatives: the identity service or the township
        window. Send an `Idempotency-Key`: a retry after a lost response returns the same verification instead
        of failing on the spent challenge."""
        max_bytes = current_app.config["FACE_MAX_FRAME_BYTES"]
        frames = [f.read(max_bytes + 1) for f in request.files.getlist("frames")]
        if not frames:
            raise ValidationFailed(errors={"frames": ["请上传3至5张照片"]})
        return identity.start_face(
            current_actor(),
            g.user,
            frames,
            challenge_id=body["challenge_id"],
            session_id=g.auth_session.id,
            max_frame_bytes=max_bytes,
            settings=_settings(),
        )


@blp.route("/real-name/verifications/<int:verification_id>")
class RealNameVerification(MethodView):
    @blp.response(200, RealNameVerificationOut, example=ex.REAL_NAME_VERIFICATION_OUT)
    @errors("verification_not_found")
    def get(self, verification_id: int):
        """查询实名核验结果

        One of my verifications: poll it after a face upload until `status` is `passed` or `failed`
        (`reason_message` says why, in Chinese)."""
        return identity.get_verification(g.user, verification_id)
