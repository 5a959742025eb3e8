"""The proof of each authorization: records hash-chained per application, sealed with a server key."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import crypto
from core.applications.models import Application
from core.authorizations.models import (
    AuthorizationRequest,
    Evidence,
)
from core.database import db
from core.errors import Conflict


def _chain(app_id: int) -> list[Evidence]:
    return list(
        db.session.scalars(select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence))
    )


def _record_hash(previous: str, sequence: int, payload: dict) -> str:
    body = json.dumps(
        {"previous": previous, "sequence": sequence, "payload": payload}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def lock_application(app_id: int) -> None:
    """Row lock on the application (PostgreSQL ``FOR UPDATE``) until commit: signatures of one application
    are written one after another, so the chain head each reads is the real one."""
    db.session.execute(select(Application.id).where(Application.id == app_id).with_for_update())


def _chain_head(app_id: int) -> Evidence | None:
    return db.session.scalar(
        select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence.desc()).limit(1)
    )


def append_evidence(app: Application, request: AuthorizationRequest, payload: dict) -> Evidence:
    """Append to the application's chain. The head is read under the application's row lock; the unique
    (application, sequence) constraint refuses a second record at the same place should anything bypass
    the lock: the caller gets a retryable 409, never a forked chain."""
    lock_application(app.id)
    head = _chain_head(app.id)
    previous = head.record_hash if head else "0" * 64
    sequence = head.sequence + 1 if head else 1
    record_hash = _record_hash(previous, sequence, payload)
    evidence = Evidence(
        application_id=app.id,
        request_id=request.id,
        sequence=sequence,
        payload=payload,
        previous_hash=previous,
        record_hash=record_hash,
        seal=crypto.seal(record_hash),
    )
    try:
        with db.session.begin_nested():
            db.session.add(evidence)
    except IntegrityError:
        raise Conflict(
            "其他家庭成员正在同时授权，请稍后重试", code="evidence_conflict", errors={"retry": ["可以直接重试"]}
        ) from None
    return evidence


def verify_chain(app_id: int) -> list[str]:
    """Problems found in the evidence chain of an application (empty: intact)."""
    problems = []
    previous = "0" * 64
    for n, evidence in enumerate(_chain(app_id), start=1):
        if evidence.sequence != n:
            problems.append(f"record {evidence.id}: sequence {evidence.sequence}, expected {n}")
        if evidence.previous_hash != previous:
            problems.append(f"record {evidence.id}: link to the previous record broken")
        expected = _record_hash(previous, evidence.sequence, evidence.payload)
        if expected != evidence.record_hash:
            problems.append(f"record {evidence.id}: content changed after sealing")
        if crypto.seal(evidence.record_hash) != evidence.seal:
            problems.append(f"record {evidence.id}: seal does not match the server key")
        previous = evidence.record_hash
    return problems


def evidence_of(app: Application) -> list[Evidence]:
    return _chain(app.id)
