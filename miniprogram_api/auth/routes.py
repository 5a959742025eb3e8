from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from core.accounts import services as accounts
from core.accounts import tokens
from core.accounts.services import SmsPolicy
from miniprogram_api import examples as ex
from miniprogram_api.auth.schemas import (
    AlipayLoginIn,
    RefreshIn,
    SmsSendIn,
    SmsSendOut,
    SmsVerifyIn,
    TokenOut,
    WechatLoginIn,
)
from miniprogram_api.openapi import errors
from miniprogram_api.security import client_ip
from web.limiter import limiter

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
    @blp.arguments(SmsSendIn, example=ex.SMS_SEND_IN)
    @blp.response(200, SmsSendOut, example=ex.SMS_SEND_OUT)
    @errors("sms_too_soon", "sms_daily_limit", "too_many_requests")
    def post(self, data: dict):
        """发送短信验证码

        Sends a 6-digit log-in code to the phone. Limited per phone (one per `resend_after` seconds, a daily
        cap) and per IP (`SMS_SEND_IP_LIMIT`); a 429 says how long to wait in `message` and `Retry-After`.
        `dev_code` is returned in development and tests only."""
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
    @blp.arguments(SmsVerifyIn, example=ex.SMS_VERIFY_IN)
    @blp.response(200, TokenOut, example=ex.TOKEN_OUT)
    @errors("sms_code_wrong", "sms_code_expired", "sms_code_locked", "account_disabled", "too_many_requests")
    def post(self, data: dict):
        """短信验证码登录

        Logs in with the phone and the SMS code; the account is created on the first log-in. A code works
        once and for `expires_in` seconds; after `SMS_MAX_ATTEMPTS` wrong tries it is locked (ask a new one).
        Answers an access token (JWT, `expires_in` seconds) and a single-use refresh token."""
        user = accounts.verify_login_code(data["phone"], data["code"], policy=_policy())
        pair = accounts.login_tokens(
            user, method="sms", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/wechat")
class WechatLogin(MethodView):
    decorators = [limiter.limit("60 per hour")]

    @blp.doc(security=[])
    @blp.arguments(WechatLoginIn, example=ex.WECHAT_LOGIN_IN)
    @blp.response(200, TokenOut, example=ex.TOKEN_OUT)
    @errors(
        "wechat_code_invalid",
        "account_disabled",
        "wechat_unavailable",
        "wechat_rate_limited",
        "wechat_error",
        "too_many_requests",
    )
    def post(self, data: dict):
        """微信登录

        Logs in with the code from `wx.login()`: the server exchanges it with WeChat (`jscode2session`); the
        `session_key` never leaves the server. The account is created on the first log-in; it acts for an ID
        number only after a real-name verification (`/api/v1/me/real-name`). 502 when WeChat cannot answer."""
        user = accounts.wechat_login(data["code"], current_app.extensions["wechat_client"])
        pair = accounts.login_tokens(
            user, method="wechat", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/alipay")
class AlipayLogin(MethodView):
    decorators = [limiter.limit("60 per hour")]

    @blp.doc(security=[])
    @blp.arguments(AlipayLoginIn, example=ex.ALIPAY_LOGIN_IN)
    @blp.response(200, TokenOut, example=ex.TOKEN_OUT)
    @errors(
        "alipay_code_invalid",
        "account_disabled",
        "alipay_unavailable",
        "alipay_signature_invalid",
        "alipay_error",
        "alipay_not_configured",
        "too_many_requests",
    )
    def post(self, data: dict):
        """支付宝登录

        Logs in with an Alipay auth code (`my.getAuthCode` in the Alipay mini-program, or the H5 authorization
        redirect): the server calls `alipay.system.oauth.token`, signing the request with RSA2 and verifying
        Alipay's signature on the answer. The first log-in creates an account bound to the Alipay user id; it acts
        for an ID number only after a real-name verification. 503 until Alipay log-in is configured."""
        user = accounts.alipay_login(data["auth_code"], current_app.extensions["alipay_client"])
        pair = accounts.login_tokens(
            user, method="alipay", actor_ip=client_ip(), user_agent=request.headers.get("User-Agent")
        )
        return _token_body(pair)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.doc(security=[])
    @blp.arguments(RefreshIn, example=ex.REFRESH_IN)
    @blp.response(200, TokenOut, example=ex.TOKEN_OUT)
    @errors("refresh_invalid", "refresh_expired", "refresh_reused", "session_revoked", "account_disabled")
    def post(self, data: dict):
        """刷新登录凭证

        Exchanges a refresh token for a new pair; the old refresh token is spent. Using a spent one again
        (`refresh_reused`) ends the whole log-in session: log in again."""
        return _token_body(tokens.rotate(data["refresh_token"]))


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    def post(self):
        """退出登录

        Ends this log-in session: its access and refresh tokens stop working at once."""
        tokens.revoke_session(g.auth_session)
        return None
