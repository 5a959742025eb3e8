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
