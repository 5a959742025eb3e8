"""Departments, API clients and signed requests for the exchange tests."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from core import crypto
from core.database import db
from core.exchange import signing
from core.exchange.models import ApiClient, Department

SECRET = "s3cret-for-tests-0123456789abcdef"


def make_client(
    *,
    code: str = "minzheng-jinxian",
    region: str = "360124",
    categories: tuple[str, ...] = ("deaths", "cremations"),
    algorithm: str = "hmac-sha256",
    secret: str = SECRET,
    kind: str = "civil_affairs",
) -> tuple[int, str]:
    """A department with one active client; returns (client id, key id)."""
    department = Department(code=code, name=f"{code}部门", kind=kind, region_code=region)
    db.session.add(department)
    db.session.flush()
    client = ApiClient(
        department_id=department.id,
        key_id=f"{code[:24]}-{secrets.token_hex(4)}",
        name="测试接入系统",
        algorithm=algorithm,
        secret_enc=crypto.encrypt(secret),
        categories=list(categories),
        status="active",
    )
    db.session.add(client)
    db.session.commit()
    return client.id, client.key_id


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key_id: str,
    secret: str = SECRET,
    algorithm: str = "hmac-sha256",
    nonce: str | None = None,
    created: int | None = None,
) -> dict[str, str]:
    parts = urlsplit(url)
    return signing.sign(
        method,
        parts.path,
        parts.query,
        body,
        key_id=key_id,
        secret=secret,
        algorithm=algorithm,
        nonce=nonce or secrets.token_hex(12),
        created=created,
    )


def post_json(client, url: str, payload, *, key_id: str, **kw):
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed("POST", url, body, key_id=key_id, **kw)}
    return client.post(url, data=body, headers=headers)


def get(client, url: str, *, key_id: str, **kw):
    return client.get(url, headers=signed("GET", url, b"", key_id=key_id, **kw))
