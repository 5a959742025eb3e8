"""WeChat mini-program log-in: ``wx.login`` code -> ``jscode2session`` -> openid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

from core.errors import AuthenticationFailed, ExternalServiceError


@dataclass(frozen=True)
class WechatIdentity:
    openid: str
    session_key: str
    unionid: str | None = None


class WechatClient(Protocol):
    def code_to_session(self, code: str) -> WechatIdentity: ...


class HttpWechatClient:
    """Calls ``{api_base}/sns/jscode2session`` (the real endpoint in production)."""

    def __init__(self, api_base: str, appid: str, secret: str, timeout: float = 5.0):
        self.api_base, self.appid, self.secret, self.timeout = api_base.rstrip("/"), appid, secret, timeout

    def code_to_session(self, code: str) -> WechatIdentity:
        try:
            resp = requests.get(
                f"{self.api_base}/sns/jscode2session",
                params={
                    "appid": self.appid,
                    "secret": self.secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
                timeout=self.timeout,
            )
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ExternalServiceError("微信登录服务暂时不可用，请稍后再试", code="wechat_unavailable") from exc
        errcode = body.get("errcode") or 0
        if errcode in (40029, 40163, 40226):  # invalid, used, or high-risk code
            raise AuthenticationFailed("微信登录凭证无效或已使用，请重新登录", code="wechat_code_invalid")
        if errcode == 45011:
            raise ExternalServiceError("微信登录过于频繁，请稍后再试", code="wechat_rate_limited")
        if errcode or not body.get("openid") or not body.get("session_key"):
            raise ExternalServiceError("微信登录失败，请稍后再试", code="wechat_error")
        return WechatIdentity(body["openid"], body["session_key"], body.get("unionid"))
