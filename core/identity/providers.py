"""Outside identity sources behind small interfaces, each with its real adapter.

- ``IdentityService``: a provincial identity-verification service (三要素核验): does this name and ID number
  belong together, and is this mobile number registered (with the carrier's real-name record) to that ID
  number? Proof of possession comes from the phone, which the account proved by SMS log-in.
- ``PlatformIdentity``: the identity a platform (WeChat) has verified for the log-in's openid.

Both raise ``ServiceUnavailable`` when the service cannot answer now (time-out, 5xx, open circuit): the
caller changes nothing and the user retries later.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import requests

from core import crypto
from core.errors import ServiceUnavailable

log = logging.getLogger("relieflink.identity")


@dataclass(frozen=True)
class CheckResult:
    matched: bool
    reason: str | None = None  # REASONS key when not matched
    reference: str | None = None  # the provider's transaction id, kept as proof


class IdentityService(Protocol):
    def check(self, name: str, id_number: str, phone: str) -> CheckResult: ...


class PlatformIdentity(Protocol):
    def check(self, openid: str, name: str, id_number: str, code: str | None) -> CheckResult: ...


class CircuitBreaker:
    """After ``failures`` consecutive errors, fail fast for ``cooldown`` seconds."""

    def __init__(self, failures: int = 3, cooldown: float = 60.0):
        self.failures, self.cooldown = failures, cooldown
        self._consecutive = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def retry_after(self) -> int:
        """Seconds until the circuit may close again (the cooldown when it is not open yet)."""
        remaining = self._open_until - time.monotonic()
        return max(1, math.ceil(remaining)) if remaining > 0 else max(1, math.ceil(self.cooldown))

    def failed(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._consecutive >= self.failures:
                self._open_until = time.monotonic() + self.cooldown

    def succeeded(self) -> None:
        with self._lock:
            self._consecutive = 0


class HttpIdentityService:
    """``POST {base}/v1/verify`` with ``{"name", "id_number", "phone"}`` and a bearer key.

    Answers ``{"result": "match" | "mismatch" | "phone_mismatch", "transaction_id": "…"}``. The request id
    we send (``X-Request-Id``) lets the provider collapse our retries.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 5.0, breaker: CircuitBreaker | None = None):
        self.base_url, self.api_key, self.timeout = base_url.rstrip("/"), api_key, timeout
        self.breaker = breaker or CircuitBreaker()

    def check(self, name: str, id_number: str, phone: str) -> CheckResult:
        if self.breaker.is_open:
            raise ServiceUnavailable(
                "身份核验服务暂时不可用，请稍后再试或换用其他核验方式",
                code="identity_service_down",
                retry_after=self.breaker.retry_after(),
            )
        try:
            resp = requests.post(
                f"{self.base_url}/v1/verify",
                json={"name": name, "id_number": id_number, "phone": phone},
                headers={
                    "Authorization": f"Bearer {self.api_key}",
                    "X-Request-Id": crypto.token_hash(f"idsvc:{id_number}:{phone}:{int(time.time() // 60)}")[:32],
                },
                timeout=self.timeout,
            )
            # Only a 200 with one of the three known results says anything about the citizen. Anything else
            # (a refused key, a quota, a proxy's page, a list, an unknown result) is the service's problem:
            # never a 500, never counted as the citizen's failed attempt.
            if resp.status_code != 200:
                raise requests.HTTPError(f"HTTP {resp.status_code}")
            body = resp.json()
            result = body.get("result") if isinstance(body, dict) else None
            if result not in ("match", "mismatch", "phone_mismatch"):
                raise ValueError("unexpected answer")
        except (requests.RequestException, ValueError) as exc:
            self.breaker.failed()
            log.warning("identity service unavailable: %s %s", type(exc).__name__, exc)
            raise ServiceUnavailable(
                "身份核验服务暂时不可用，请稍后再试或换用其他核验方式",
                code="identity_service_down",
                retry_after=self.breaker.retry_after(),
            ) from exc
        self.breaker.succeeded()
        reference = str(body.get("transaction_id") or "")[:100] or None
        if result == "match":
            return CheckResult(True, None, reference)
        if result == "phone_mismatch":
            return CheckResult(False, "phone_mismatch", reference)
        return CheckResult(False, "mismatch", reference)


class ConsoleIdentityService:
    """Development and tests only (refused in production): every well-formed claim matches."""

    def check(self, name: str, id_number: str, phone: str) -> CheckResult:
        return CheckResult(True, None, "console")


class WechatRealName:
    """WeChat's real-name check for a mini-program user (实名信息校验): does the WeChat Pay real-name
    identity of this openid match the name and ID number? ``code`` comes from the mini-program's
    real-name authorization prompt."""

    def __init__(self, api_base: str, appid: str, secret: str, *, timeout: float = 5.0):
        self.api_base, self.appid, self.secret, self.timeout = api_base.rstrip("/"), appid, secret, timeout
        self._token: str | None = None
        self._token_expires = 0.0
        self.breaker = CircuitBreaker()

    def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        resp = requests.get(
            f"{self.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=self.timeout,
        )
        body = resp.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise requests.HTTPError(f"token refused: {body.get('errcode')}")
        self._token = body["access_token"]
        self._token_expires = time.monotonic() + max(60, int(body.get("expires_in", 7200)) - 300)
        return self._token

    def check(self, openid: str, name: str, id_number: str, code: str | None) -> CheckResult:
        down = ServiceUnavailable(
            "微信实名核验暂时不可用，请稍后再试或换用其他核验方式",
            code="platform_down",
            retry_after=self.breaker.retry_after(),
        )
        if self.breaker.is_open:
            raise down
        try:
            resp = requests.post(
                f"{self.api_base}/intp/realname/checkrealnameinfo",
                params={"access_token": self._access_token()},
                json={"openid": openid, "real_name": name, "cred_id": id_number, "cred_type": 1, "code": code or ""},
                timeout=self.timeout,
            )
            if resp.status_code != 200:
                raise requests.HTTPError(f"HTTP {resp.status_code}")
            body = resp.json()
            if not isinstance(body, dict):
                raise ValueError("unexpected answer")
        except (requests.RequestException, ValueError) as exc:
            self.breaker.failed()
            raise down from exc
        self.breaker.succeeded()
        if body.get("errcode"):
            return CheckResult(False, "not_verified_on_platform", None)
        matched = body.get("verify_openid") == "V_OP_NM_MA" and body.get("verify_real_name") == "V_NM_ID_MA"
        return CheckResult(matched, None if matched else "not_verified_on_platform", "wechat")
