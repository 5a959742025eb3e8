"""The proof of each authorization: records hash-chained per application, sealed with a server key."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

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


GENESIS = "0" * 64


def _chain_head(app_id: int) -> tuple[int, str]:
    """The chain head stored on the application: (length, hash of the last record). Read after
    ``lock_application``, which waits until a concurrent append has committed; under READ COMMITTED this
    next statement then sees the head that append wrote."""
    row = db.session.execute(
        select(Application.evidence_length, Application.evidence_head).where(Application.id == app_id)
    ).one()
    return row.evidence_length, row.evidence_head or GENESIS


def append_evidence(app: Application, request: AuthorizationRequest, payload: dict) -> Evidence:
    """Append to the application's chain and move the head stored on the application, in the caller's
    transaction. The head is read under the application's row lock; the head update is a compare-and-set
    on the length read, and the unique (application, sequence) constraint refuses a second record at the
    same place: should anything bypass the lock the caller gets a retryable 409, never a forked chain."""
    lock_application(app.id)
    length, previous = _chain_head(app.id)
    sequence = length + 1
    record_hash = _record_hash(previous, sequence, payload)
    moved = db.session.execute(
        update(Application.__table__)
        .where(Application.__table__.c.id == app.id, Application.__table__.c.evidence_length == length)
        # bookkeeping, not an edit: the version (stale-form check) and updated_at stay as they are
        .values(evidence_length=sequence, evidence_head=record_hash, updated_at=Application.__table__.c.updated_at)
    )
    if moved.rowcount != 1:
        raise _conflict()
    set_committed_value(app, "evidence_length", sequence)
    set_committed_value(app, "evidence_head", record_hash)
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
        raise _conflict() from None
    return evidence


def _conflict() -> Conflict:
    return Conflict(
        "其他家庭成员正在同时授权，请稍后重试", code="evidence_conflict", errors={"retry": ["可以直接重试"]}
    )


def _numbers(values: list[int]) -> str:
    """1, 2, 3, 5 → "1-3, 5"."""
    spans: list[list[int]] = []
    for v in values:
        if spans and v == spans[-1][1] + 1:
            spans[-1][1] = v
        else:
            spans.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def verify_chain(app_id: int) -> list[str]:
    """Problems found in the evidence chain of an application (empty: intact): each record's hash, link
    and seal, and the chain against the head stored on the application (records missing at the end or
    anywhere, records beyond the head, a last record that is not the one the head names)."""
    head = db.session.execute(
        select(Application.evidence_length, Application.evidence_head).where(Application.id == app_id)
    ).one_or_none()
    if head is None:
        return [f"申请 {app_id} 不存在 / application {app_id} not found"]
    chain = _chain(app_id)
    problems = []
    previous = GENESIS
    for n, evidence in enumerate(chain, start=1):
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
    length, head_hash = head.evidence_length, head.evidence_head
    present = {e.sequence for e in chain}
    missing = sorted(set(range(1, length + 1)) - present)
    beyond = sorted(s for s in present if s > length)
    if missing:
        problems.append(
            f"证据链被截断：应有 {length} 条记录，现有 {len(chain)} 条，缺少第 {_numbers(missing)} 条"
            f" / chain truncated: the application's head records {length} record(s), {len(chain)} found,"
            f" missing sequence {_numbers(missing)}"
        )
    if beyond:
        problems.append(
            f"证据链被追加：第 {_numbers(beyond)} 条记录不在申请记载的链头之内（链头为第 {length} 条）"
            f" / chain extended: sequence {_numbers(beyond)} beyond the application's head ({length} record(s))"
        )
    last = next((e for e in chain if e.sequence == length), None)
    if last is not None and last.record_hash != head_hash:
        problems.append(
            f"证据链末条记录与申请记载的链头摘要不符（第 {length} 条）"
            f" / record {last.id}: sequence {length} is not the record the application's head names"
        )
    return problems


def evidence_of(app: Application) -> list[Evidence]:
    return _chain(app.id)
