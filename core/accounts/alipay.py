"""Alipay log-in (H5 inside Alipay, Alipay mini-program): auth code -> ``alipay.system.oauth.token`` -> user id.

Alipay's open platform protocol: every request carries the common parameters and an RSA2 signature
(SHA256withRSA, PKCS#1 v1.5) by the application's private key over the sorted ``key=value`` pairs; every
response carries ``sign``, Alipay's signature over the exact JSON text of the ``…_response`` node, checked
with Alipay's public key. A response whose signature does not verify is not trusted, whatever it says.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.errors import AuthenticationFailed, ExternalServiceError, ServiceUnavailable

METHOD = "alipay.system.oauth.token"
RESPONSE_NODE = "alipay_system_oauth_token_response"
BEIJING = timezone(timedelta(hours=8))
USER_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
# error sub-codes that mean "this auth code is no good" (the user retries the log-in), not "Alipay is down"
CODE_ERRORS = {"isv.code-invalid", "isv.invalid-code", "isv.auth-code-expired", "isv.code-used"}


@dataclass(frozen=True)
class AlipayIdentity:
    user_id: str  # user_id (2088…) or, for applications on open_id, the open_id


class AlipayClient(Protocol):
    def code_to_user(self, auth_code: str) -> AlipayIdentity: ...


def signing_content(params: dict[str, str]) -> str:
    """The string Alipay signs: non-empty parameters except ``sign``, sorted by key, ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))


def rsa2_sign(content: str, private_key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(content: str, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), content.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def load_private_key(pem_or_base64: str) -> rsa.RSAPrivateKey:
    """A PEM, or the bare base64 PKCS#8 body the Alipay console shows."""
    text = pem_or_base64.strip()
    if "-----BEGIN" not in text:
        text = f"-----BEGIN PRIVATE KEY-----\n{text}\n-----END PRIVATE KEY-----"
    key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("ALIPAY_PRIVATE_KEY is not an RSA key")
    return key


def load_public_key(pem_or_base64: str) -> rsa.RSAPublicKey:
    text = pem_or_base64.strip()
    if "-----BEGIN" not in text:
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----"
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("ALIPAY_PUBLIC_KEY is not an RSA key")
    return key


def signed_node(raw: str, node: str) -> tuple[dict, str] | None:
    """The parsed ``node`` object and its exact text in the raw response (what Alipay signed)."""
    match = re.search(r'"' + re.escape(node) + r'"\s*:\s*', raw)
    if match is None:
        return None
    try:
        value, end = json.JSONDecoder().raw_decode(raw, match.end())
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return value, raw[match.end() : end]


class HttpAlipayClient:
    """Calls the Alipay gateway (``https://openapi.alipay.com/gateway.do`` in production)."""

    def __init__(
        self,
        gateway: str,
        app_id: str | None,
        private_key: str | None,
        alipay_public_key: str | None,
        timeout: float = 5.0,
    ):
        self.gateway, self.app_id, self.timeout = gateway, app_id, timeout
        self._private = load_private_key(private_key) if private_key else None
        self._alipay_public = load_public_key(alipay_public_key) if alipay_public_key else None

    def request_params(self, auth_code: str, now: datetime | None = None) -> dict[str, str]:
        moment = (now or datetime.now(UTC)).astimezone(BEIJING)
        params = {
            "app_id": self.app_id or "",
            "method": METHOD,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "grant_type": "authorization_code",
            "code": auth_code,
        }
        assert self._private is not None
        params["sign"] = rsa2_sign(signing_content(params), self._private)
        return params

    def code_to_user(self, auth_code: str) -> AlipayIdentity:
        if not (self.app_id and self._private and self._alipay_public):
            raise ServiceUnavailable("支付宝登录暂未开通，请使用手机号登录", code="alipay_not_configured")
        try:
            resp = requests.post(
                self.gateway,
                data=self.request_params(auth_code),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
                timeout=self.timeout,
            )
            raw = resp.content.decode("utf-8")
            body = json.loads(raw)
        except (requests.RequestException, ValueError) as exc:
            raise ExternalServiceError("支付宝登录服务暂时不可用，请稍后再试", code="alipay_unavailable") from exc
        for node in (RESPONSE_NODE, "error_response"):
            found = signed_node(raw, node)
            if found is None:
                continue
            value, text = found
            signature = body.get("sign") if isinstance(body, dict) else None
            if not isinstance(signature, str) or not rsa2_verify(text, signature, self._alipay_public):
                # unsigned or forged: never trust it (Alipay signs every answer, errors included)
                raise ExternalServiceError("支付宝登录结果校验失败，请稍后再试", code="alipay_signature_invalid")
            return self._outcome(node, value)
        raise ExternalServiceError("支付宝登录失败，请稍后再试", code="alipay_error")

    @staticmethod
    def _outcome(node: str, value: dict) -> AlipayIdentity:
        if node == "error_response" or str(value.get("code", "10000")) != "10000":
            if value.get("sub_code") in CODE_ERRORS:
                raise AuthenticationFailed("支付宝授权码无效或已使用，请重新登录", code="alipay_code_invalid")
            raise ExternalServiceError("支付宝登录失败，请稍后再试", code="alipay_error")
        user_id = value.get("user_id") or value.get("open_id")
        if not isinstance(user_id, str) or not USER_ID.match(user_id):
            raise ExternalServiceError("支付宝登录失败，请稍后再试", code="alipay_error")
        return AlipayIdentity(user_id)
