"""Idempotency keys: the same key and body replays the first response.

``claim`` commits an in-progress marker in its own short transaction, so a concurrent request
with the same key sees it (409). The marker becomes the stored response in the same
transaction as the write it answers (``complete``), or is removed when that write fails. The stored
response body is encrypted (core.crypto): it may hold the personal data the response showed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core import clock, crypto
from core.database import db, rollback
from core.errors import Conflict, ValidationFailed
from core.idempotency.models import IdempotencyRecord

KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes
    content_type: str | None
    location: str | None


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def claim(
    principal: str, key: str, endpoint: str, fp: str, *, ttl_hours: int, stale_seconds: int
) -> IdempotencyRecord | Replay:
    """Reserve ``key`` for this request, or return the stored response to replay.

    Commits (the marker must be visible to concurrent requests); call before any other write.
    """
    if not KEY_RE.match(key or ""):
        raise ValidationFailed(
            "Idempotency-Key 格式不正确",
            errors={"Idempotency-Key": ["应为8-100位字母、数字或 _ . : - 组成的字符串（建议使用UUID）"]},
        )
    now = clock.utcnow()
    existing = db.session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
    )
    if existing is not None and existing.created_at < now - timedelta(hours=ttl_hours):
        db.session.delete(existing)
        db.session.flush()
        existing = None
    if existing is not None:
        if existing.fingerprint != fp or existing.endpoint != endpoint:
            raise ValidationFailed(
                "该 Idempotency-Key 已用于另一个不同的请求",
                errors={"Idempotency-Key": ["同一个 Idempotency-Key 只能用于同一个请求内容"]},
                code="idempotency_key_reused",
            )
        if existing.state == "completed":
            return Replay(
                existing.response_status or 200,
                crypto.decrypt_bytes(existing.response_body) if existing.response_body else b"",
                existing.response_content_type,
                existing.response_location,
            )
        if existing.created_at > now - timedelta(seconds=stale_seconds):
            raise Conflict("相同的请求正在处理中，请稍后查看结果", code="idempotency_in_progress")
        # A stale marker: the first attempt died before finishing. Take it over.
        existing.created_at = now
        db.session.commit()
        return existing
    record = IdempotencyRecord(principal=principal, key=key, endpoint=endpoint, fingerprint=fp, state="in_progress")
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("相同的请求正在处理中，请稍后查看结果", code="idempotency_in_progress") from None
    return record


def complete(
    record: IdempotencyRecord, status: int, body: bytes, content_type: str | None, location: str | None
) -> None:
    """Store the response; the caller's commit makes it final together with the write."""
    record = db.session.merge(record)
    record.state = "completed"
    record.response_status = status
    # Encrypted at rest: a response may carry ID numbers (an application's members) or other personal data.
    record.response_body = crypto.encrypt_bytes(body) if body else body
    record.response_content_type = content_type
    record.response_location = location
    record.completed_at = clock.utcnow()


def release(record_id: int) -> None:
    """Forget a marker whose request failed, so the client may retry. Commits."""
    rollback()  # the failed request's work, and its undo callbacks (files written for it)
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()


def purge_expired(ttl_hours: int) -> int:
    cutoff = clock.utcnow() - timedelta(hours=ttl_hours)
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return result.rowcount or 0
