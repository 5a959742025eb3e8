from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.accounts import services as accounts
from core.accounts import tokens
from core.accounts.services import SmsPolicy
from miniprogram_api.auth.schemas import (
    AlipayLoginIn,
    RefreshIn,
    SmsSendIn,
    SmsSendOut,
    SmsVerifyIn,
    TokenOut,
    WechatLoginIn,
)
from miniprogram_api.extensions import limiter
from miniprogram_api.security import client_ip

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录 Log-in for citizens and reporters")


def _policy() -> SmsPolicy:
    c = current_app.config
    return SmsPolicy(
        c["SMS_CODE_TTL_SECONDS"], c["SMS_RESEND_SECONDS"], c["SMS_DAILY_LIMIT_PER_PHONE"], c["SMS_MAX_ATTEMPTS"]
    )


def _token_body(pair: tokens.TokenPair) -> dict:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }


@blp.route("/sms/send")
class SmsSend(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["SMS_SEND_IP_LIMIT"])]

    @blp.doc(security=[])
    @blp.arguments(SmsSendIn)
    @blp.response(200, SmsSendOut)
    @blp.alt_response(429, description="Too soon, daily cap reached, or too many requests from this IP")
    def post(self, data: dict):
        """Send a 6-digit log-in code by SMS (rate-limited per phone and per IP)."""
        policy = _policy()
        code = accounts.send_login_code(data["phone"], ip=client_ip(), policy=policy)
        body = {"expires_in": policy.ttl_seconds, "resend_after": policy.resend_seconds}
        if current_app.config["SMS_EXPOSE_DEV_CODE"] and current_app.config["APP_ENV"] != "production":
            body["dev_code"] = code
        return body


@blp.route("/sms/verify")
class SmsVerify(MethodView):
    decorators = [limiter.limit("60 per hour")]

    @blp.doc(security=[])
    @blp.arguments(SmsVerifyIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="Wrong, used or expired code")
    def post(self, data: dict):
        """Log in with phone + SMS code; the account is created on first log-in."""
        user = accounts.verify_login_code(data["phone"], data["code"], policy=_policy())
        pair = accounts.login_tokens(
            user, method="sms", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/wechat")
class WechatLogin(MethodView):
    decorators = [limiter.limit("60 per hour")]

    @blp.doc(security=[])
    @blp.arguments(WechatLoginIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="Invalid or used wx.login code")
    @blp.alt_response(502, description="WeChat unreachable")
    def post(self, data: dict):
        """Log in with a `wx.login` code (exchanged server-side; session_key never leaves the server)."""
        user = accounts.wechat_login(data["code"], current_app.extensions["wechat_client"])
        pair = accounts.login_tokens(
            user, method="wechat", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/alipay")
class AlipayLogin(MethodView):
    decorators = [limiter.limit("60 per hour")]

    @blp.doc(security=[])
    @blp.arguments(AlipayLoginIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="Invalid or used auth code (alipay_code_invalid)")
    @blp.alt_response(502, description="Alipay unreachable, or its answer's signature does not verify")
    @blp.alt_response(503, description="Alipay log-in not configured (alipay_not_configured)")
    def post(self, data: dict):
        """Log in with an Alipay auth code (`alipay.system.oauth.token`, RSA2-signed both ways); the first
        log-in creates an account bound to the Alipay user id."""
        user = accounts.alipay_login(data["auth_code"], current_app.extensions["alipay_client"])
        pair = accounts.login_tokens(
            user, method="alipay", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(security=[])
    @blp.arguments(RefreshIn)
    @blp.response(200, TokenOut)
    @blp.alt_response(401, description="Invalid, expired or reused refresh token (reuse ends the session)")
    def post(self, data: dict):
        """Exchange a refresh token for a new pair (the old one is spent)."""
        return _token_body(tokens.rotate(data["refresh_token"]))


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """End this log-in: its access and refresh tokens stop working."""
        tokens.revoke_session(g.auth_session)
        return None
