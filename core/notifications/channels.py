"""Outside senders behind one interface. Console for development; HTTP gateway for production."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

import requests

log = logging.getLogger(__name__)


class SendError(Exception):
    """A send failed; ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    def send(self, recipient: str, template: str, payload: dict) -> str | None:
        """Send; return the provider's message id. Raise SendError on failure."""


class ConsoleChannel:
    """Writes each message to the log and to ``outbox.jsonl`` under the storage dir."""

    def __init__(self, storage_dir: str):
        self.path = Path(storage_dir) / "outbox.jsonl"

    def send(self, recipient: str, template: str, payload: dict) -> str | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": recipient, "template": template, "payload": payload}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        log.info("console message to %s: %s", recipient[:3] + "****", template)
        return None


class HttpSmsGateway:
    """A generic SMS gateway over HTTPS JSON: POST {phone, sign, template, params}.

    The deployment points ``SMS_GATEWAY_URL`` at its provider's relay; the response must be
    JSON with ``ok`` (bool) and ``message_id`` or ``error``.
    """

    def __init__(self, url: str, api_key: str, sign_name: str, timeout: float = 5.0):
        if not url or not api_key:
            raise ValueError("SMS_GATEWAY_URL and SMS_GATEWAY_API_KEY are required for SMS_BACKEND=http")
        self.url, self.api_key, self.sign_name, self.timeout = url, api_key, sign_name, timeout

    def send(self, recipient: str, template: str, payload: dict) -> str | None:
        try:
            resp = requests.post(
                self.url,
                json={"phone": recipient, "sign": self.sign_name, "template": template, "params": payload},
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SendError(f"gateway unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 500:
            raise SendError(f"gateway HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise SendError("gateway answered non-JSON") from exc
        if resp.status_code >= 400 or not body.get("ok"):
            raise SendError(f"gateway refused: {body.get('error', resp.status_code)}", permanent=True)
        return body.get("message_id")


class WechatSubscribeChannel:
    """WeChat mini-program subscription messages (``subscribeMessage.send``).

    ``payload`` is ``{"page": ..., "data": {"thing1": {"value": ...}, ...}}``; ``template`` names a
    template configured as ``template_ids[template]``. The access token is fetched with the app's
    credentials and cached until shortly before it expires.
    """

    PERMANENT_ERRORS = frozenset({43101, 47003, 40003, 40037})  # refused, bad data, bad openid, bad template

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

    def send(self, recipient: str, template: str, payload: dict) -> str | None:
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
            except (requests.RequestException, ValueError) as exc:
                raise SendError(f"subscribe/send unreachable: {type(exc).__name__}") from exc
            errcode = body.get("errcode", 0)
            if errcode == 0:
                return str(body.get("msgid") or "") or None
            if errcode in (40001, 42001) and attempt == 1:  # token expired or invalid: fetch anew once
                continue
            raise SendError(f"subscribe/send errcode {errcode}", permanent=errcode in self.PERMANENT_ERRORS)
        raise SendError("subscribe/send failed")
