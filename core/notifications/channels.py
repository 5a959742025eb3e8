"""Outside senders behind one interface. Console for development; HTTP gateway for production."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

import requests

log = logging.getLogger(__name__)


class SendError(Exception):
    """A send failed; ``permanent`` failures are not retried. ``ambiguous``: the request may have reached
    the provider (a read time-out), so a channel that cannot de-duplicate must not send it again."""

    def __init__(self, message: str, *, permanent: bool = False, ambiguous: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.ambiguous = ambiguous


class Channel(Protocol):
    # True when the provider drops a second request with the same request id (exactly-once delivery);
    # False: a send that may have gone out is never repeated (at-most-once on an ambiguous failure).
    deduplicates: bool

    def send(self, recipient: str, template: str, payload: dict, *, request_id: str | None = None) -> str | None:
        """Send; return the provider's message id. Raise SendError on failure."""

    def lookup(self, request_id: str) -> str | None:
        """Whether the provider received ``request_id``: its message id, or None if it never arrived.
        Raise SendError when it cannot tell (then the message is marked unknown, not resent)."""


class ConsoleChannel:
    """Writes each message to the log and to ``outbox.jsonl`` under the storage dir."""

    deduplicates = False

    def __init__(self, storage_dir: str):
        self.path = Path(storage_dir) / "outbox.jsonl"

    def send(self, recipient: str, template: str, payload: dict, *, request_id: str | None = None) -> str | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"to": recipient, "template": template, "payload": payload, "request_id": request_id}, ensure_ascii=False
        )
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        log.info("console message to %s: %s", recipient[:3] + "****", template)
        return None

    def lookup(self, request_id: str) -> str | None:
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if json.loads(line).get("request_id") == request_id:
                    return request_id
        return None


class HttpSmsGateway:
    """A generic SMS gateway over HTTPS JSON: POST {phone, sign, template, params, request_id}.

    The deployment points ``SMS_GATEWAY_URL`` at its provider's relay; the response must be
    JSON with ``ok`` (bool) and ``message_id`` or ``error``. The relay must send a ``request_id`` once
    (a repeat answers the first message's id; the providers' "out id" / "SessionContext" fields) and
    answer ``GET {url}/requests/{request_id}`` with 200 ``{"message_id": …}`` or 404: that makes SMS
    exactly-once across retries and crashes (docs/deployment.md).
    """

    deduplicates = True

    def __init__(self, url: str, api_key: str, sign_name: str, timeout: float = 5.0):
        if not url or not api_key:
            raise ValueError("SMS_GATEWAY_URL and SMS_GATEWAY_API_KEY are required for SMS_BACKEND=http")
        self.url, self.api_key, self.sign_name, self.timeout = url, api_key, sign_name, timeout

    def send(self, recipient: str, template: str, payload: dict, *, request_id: str | None = None) -> str | None:
        body = {"phone": recipient, "sign": self.sign_name, "template": template, "params": payload}
        if request_id:
            body["request_id"] = request_id
        try:
            resp = requests.post(
                self.url, json=body, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=self.timeout
            )
        except requests.ConnectionError as exc:
            raise SendError(f"gateway unreachable: {type(exc).__name__}") from exc
        except requests.RequestException as exc:  # a read time-out: it may have been sent
            raise SendError(f"gateway did not answer: {type(exc).__name__}", ambiguous=True) from exc
        if resp.status_code >= 500:
            raise SendError(f"gateway HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise SendError("gateway answered non-JSON") from exc
        if resp.status_code >= 400 or not body.get("ok"):
            raise SendError(f"gateway refused: {body.get('error', resp.status_code)}", permanent=True)
        return body.get("message_id")

    def lookup(self, request_id: str) -> str | None:
        try:
            resp = requests.get(
                f"{self.url.rstrip('/')}/requests/{request_id}",
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SendError(f"gateway unreachable: {type(exc).__name__}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise SendError(f"gateway lookup HTTP {resp.status_code}")
        try:
            return resp.json().get("message_id") or request_id
        except ValueError as exc:
            raise SendError("gateway answered non-JSON") from exc


class WechatSubscribeChannel:
    """WeChat mini-program subscription messages (``subscribeMessage.send``).

    ``payload`` is ``{"page": ..., "data": {"thing1": {"value": ...}, ...}}``; ``template`` names a
    template configured as ``template_ids[template]``. The access token is fetched with the app's
    credentials and cached until shortly before it expires.
    """

    PERMANENT_ERRORS = frozenset({43101, 47003, 40003, 40037})  # refused, bad data, bad openid, bad template
    # subscribeMessage.send has no request id and no look-up: a send that may have gone out is not repeated
    deduplicates = False

    def __init__(
        self,
        api_base: str,
        appid: str,
        secret: str,
        template_ids: dict[str, str],
        *,
        timeout: float = 5.0,
        state: str = "formal",
    ):
        self.api_base, self.appid, self.secret = api_base.rstrip("/"), appid, secret
        self.template_ids, self.timeout, self.state = template_ids, timeout, state
        self._token: str | None = None
        self._token_expires = 0.0

    def _access_token(self, *, refresh: bool = False) -> str:
        import time

        if self._token and not refresh and time.monotonic() < self._token_expires:
            return self._token
        try:
            resp = requests.get(
                f"{self.api_base}/cgi-bin/token",
                timeout=self.timeout,
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise SendError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if not body.get("access_token"):
            raise SendError(f"token refused: {body.get('errcode')}")
        self._token = body["access_token"]
        self._token_expires = time.monotonic() + max(60, int(body.get("expires_in", 7200)) - 300)
        return self._token

    def send(self, recipient: str, template: str, payload: dict, *, request_id: str | None = None) -> str | None:
        template_id = self.template_ids.get(template)
        if not template_id:
            raise SendError(f"no WeChat template configured for {template}", permanent=True)
        message = {
            "touser": recipient,
            "template_id": template_id,
            "page": payload.get("page", ""),
            "data": payload["data"],
            "miniprogram_state": self.state,
            "lang": "zh_CN",
        }
        for attempt in (1, 2):
            try:
                resp = requests.post(
                    f"{self.api_base}/cgi-bin/message/subscribe/send",
                    json=message,
                    params={"access_token": self._access_token(refresh=attempt == 2)},
                    timeout=self.timeout,
                )
                body = resp.json()
            except requests.ConnectionError as exc:
                raise SendError(f"subscribe/send unreachable: {type(exc).__name__}") from exc
            except (requests.RequestException, ValueError) as exc:  # it may have been sent
                raise SendError(f"subscribe/send did not answer: {type(exc).__name__}", ambiguous=True) from exc
            errcode = body.get("errcode", 0)
            if errcode == 0:
                return str(body.get("msgid") or "") or None
            if errcode in (40001, 42001) and attempt == 1:  # token expired or invalid: fetch anew once
                continue
            raise SendError(f"subscribe/send errcode {errcode}", permanent=errcode in self.PERMANENT_ERRORS)
        raise SendError("subscribe/send failed")

    def lookup(self, request_id: str) -> str | None:
        raise SendError("WeChat subscription messages cannot be looked up")
