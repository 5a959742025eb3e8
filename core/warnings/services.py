"""Raising warnings (set-based, deduplicated), finding them in scope, and disposing of them.

Who raises: department events (core.exchange.events), the anti-fraud cross-check and monitoring (bulk
jobs). They pass ``Hit``s; ``raise_warnings`` upserts them on ``open_key`` (one open warning per person ×
reason: a new hit updates it), skips hits whose record a closed warning already handled, and opens one
township case per new warning in one batch (core.casework.open_many).

Disposition (核查): the township (or county) officer records whether the warning is true (核实属实) or
not (核实不属实, with a reason; a wrong department record becomes a data-quality note for the
department). A true warning about an enrolled person goes to the county, which suspends or ends the
enrollment through the registry (core.registry.enrollments.change) — payments stop there, and money paid
after a death is computed from the locked rolls as arrears to recover.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core import access, clock, pii, workdays
from core.actor import Actor
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.casework.services import Page
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.registry import enrollments
from core.registry.models import Enrollment, PaymentRoll, PaymentRollLine
from core.warnings.models import WARNING_LEVELS, WARNING_SOURCES, WARNING_STATUSES, RiskWarning

DUE_WORKING_DAYS = {"red": 3, "orange": 5, "yellow": 10}  # first verification due, by level
LEVEL_RANK = {"yellow": 1, "orange": 2, "red": 3}
OPEN_STATUSES = ("open", "confirmed")
VERIFY_RESULTS = {"confirmed": "核实属实", "dismissed": "核实不属实"}
ACTIONS = {"suspend": "暂停发放", "exit": "退出救助", "none": "无需调整救助"}
OFFICER_ROLES = {"township_officer", "county_officer", "city_admin", "system_admin"}
COUNTY_ROLES = {"county_officer", "city_admin", "system_admin"}
CHUNK = 500


@dataclass
class Hit:
    """One finding about one person, with what it rests on."""

    source: str  # WARNING_SOURCES
    reason: str
    reason_label: str
    level: str  # WARNING_LEVELS
    id_number: str
    township_code: str
    summary: str
    fingerprint: str  # the record it rests on: the same record never raises a closed warning again
    name: str | None = None
    person_id: int | None = None
    household_id: int | None = None
    enrollment_id: int | None = None
    event_date: date | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RaiseResult:
    created: int
    updated: int
    suppressed: int
    created_ids: tuple[int, ...] = ()


def open_key(bidx: str, reason: str) -> str:
    return f"{bidx}:{reason}"


def _insert(dialect: str):
    return (postgresql if dialect == "postgresql" else sqlite).insert(RiskWarning)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _validate(hit: Hit) -> None:
    if hit.source not in WARNING_SOURCES or hit.level not in WARNING_LEVELS:
        raise ValueError(f"warning hit with unknown source or level: {hit.source!r} {hit.level!r}")
    if not hit.township_code or len(hit.township_code) < 9:
        raise ValueError("a warning hit needs the township it is routed to")


def raise_warnings(actor: Actor, hits: Sequence[Hit]) -> RaiseResult:
    """Store ``hits`` as warnings (see the module docstring). Safe to run twice over the same hits."""
    if not hits:
        return RaiseResult(0, 0, 0)
    for hit in hits:
        _validate(hit)
    # the last hit for a person × reason wins inside one call
    by_key: dict[str, tuple[str, Hit]] = {}
    for hit in hits:
        bidx = pii.blind_index(hit.id_number)
        by_key[open_key(bidx, hit.reason)] = (bidx, hit)
    # records a closed warning already handled (dismissed as wrong data, or acted on) raise nothing again
    handled: set[tuple[str, str, str]] = set()
    bidxs = sorted({bidx for bidx, _ in by_key.values()})
    for chunk in _chunks(bidxs):
        handled.update(
            db.session.execute(
                select(RiskWarning.id_number_bidx, RiskWarning.reason, RiskWarning.fingerprint).where(
                    RiskWarning.id_number_bidx.in_(chunk), RiskWarning.open_key.is_(None)
                )
            ).all()
        )
    rows = []
    suppressed = 0
    now = clock.utcnow()
    for key, (bidx, hit) in by_key.items():
        if (bidx, hit.reason, hit.fingerprint) in handled:
            suppressed += 1
            continue
        rows.append(
            {
                "source": hit.source,
                "reason": hit.reason,
                "reason_label": hit.reason_label[:100],
                "level": hit.level,
                "status": "open",
                "open_key": key,
                "id_number_enc": pii.encrypt_id(hit.id_number),
                "id_number_bidx": bidx,
                "id_number_l4": pii.last4_index(hit.id_number),
                "name": (hit.name or None) and hit.name[:50],
                "person_id": hit.person_id,
                "household_id": hit.household_id,
                "enrollment_id": hit.enrollment_id,
                "township_code": hit.township_code,
                "county_code": hit.township_code[:6],
                "summary": hit.summary[:300],
                "fingerprint": hit.fingerprint[:64],
                "evidence": hit.evidence,
                "values": hit.values,
                "event_date": hit.event_date,
                "hit_count": 1,
                "first_seen_at": now,
                "last_seen_at": now,
            }
        )
    keys = [row["open_key"] for row in rows]
    if rows:
        stmt = _insert(db.session.get_bind().dialect.name)
        table = RiskWarning.__table__
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.open_key],
            set_={
                # a hit from another record counts; the same record again changes nothing but the time seen
                "hit_count": sql_case(
                    (table.c.fingerprint == stmt.excluded.fingerprint, table.c.hit_count),
                    else_=table.c.hit_count + 1,
                ),
                "fingerprint": stmt.excluded.fingerprint,
                "level": sql_case(
                    (_rank(stmt.excluded.level) > _rank(table.c.level), stmt.excluded.level), else_=table.c.level
                ),
                "summary": stmt.excluded.summary,
                "evidence": stmt.excluded.evidence,
                "values": stmt.excluded["values"],
                "event_date": func.coalesce(stmt.excluded.event_date, table.c.event_date),
                "last_seen_at": stmt.excluded.last_seen_at,
            },
        )
        for chunk in _chunks(rows):
            db.session.execute(stmt, list(chunk))
    new_ids = _open_cases(actor, keys)  # an open warning that already has its case is left alone
    created = len(new_ids)
    if rows:
        audit.record(
            actor,
            "warnings.raise",
            ("warnings", None),
            region=actor.region_code,
            created=created,
            updated=len(rows) - created,
            suppressed=suppressed,
            reasons=sorted({hit.reason for _, hit in by_key.values()}),
        )
    return RaiseResult(created, len(rows) - created, suppressed, tuple(new_ids))


def _rank(level: Any) -> Any:
    return sql_case(LEVEL_RANK, value=level, else_=0)


def _open_cases(actor: Actor, keys: list[str]) -> list[int]:
    """One township case per new warning (one INSERT batch), linked back to its warning."""
    new: list[RiskWarning] = []
    for chunk in _chunks(keys):
        new.extend(
            db.session.scalars(
                select(RiskWarning).where(RiskWarning.open_key.in_(chunk), RiskWarning.case_id.is_(None))
            )
        )
    if not new:
        return []
    today = clock.local_today()
    due = {level: workdays.add_working_days(today, days) for level, days in DUE_WORKING_DAYS.items()}
    seeds = [
        casework.CaseSeed(
            township_code=w.township_code,
            title=f"{w.reason_label}：{mask_name(w.name)}",
            subject_type="warning",
            subject_id=w.id,
            due_date=due[w.level],
        )
        for w in new
    ]
    casework.open_many(actor, kind="warning", seeds=seeds, audit_target=("warnings", None))
    ids = [w.id for w in new]
    for chunk in _chunks(ids):
        case_id = (
            select(Case.id).where(Case.subject_type == "warning", Case.subject_id == RiskWarning.id).scalar_subquery()
        )
        db.session.execute(
            update(RiskWarning)
            .where(RiskWarning.id.in_(chunk), RiskWarning.case_id.is_(None))
            .values(case_id=case_id)
            .execution_options(synchronize_session=False)
        )
    for w in new:
        db.session.expire(w, ["case_id"])
    return ids


def mask_name(name: str | None) -> str:
    if not name:
        return "（未提供姓名）"
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


# --- finding ------------------------------------------------------------------------------------------


def _require_officer(actor: Actor) -> None:
    if actor.kind != "officer" or not OFFICER_ROLES & set(actor.roles):
        raise PermissionDenied()


def list_warnings(
    actor: Actor,
    *,
    status: str | None = "open",
    reason: str | None = None,
    level: str | None = None,
    source: str | None = None,
    township: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    _require_officer(actor)
    stmt = select(RiskWarning).where(access.under(actor, RiskWarning.township_code))
    if status == "open":
        stmt = stmt.where(RiskWarning.status.in_(OPEN_STATUSES))
    elif status in WARNING_STATUSES:
        stmt = stmt.where(RiskWarning.status == status)
    if reason:
        stmt = stmt.where(RiskWarning.reason == reason)
    if level in WARNING_LEVELS:
        stmt = stmt.where(RiskWarning.level == level)
    if source in WARNING_SOURCES:
        stmt = stmt.where(RiskWarning.source == source)
    if township:
        stmt = stmt.where(RiskWarning.township_code.startswith(township))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(
        db.session.scalars(
            stmt.order_by(_rank(RiskWarning.level).desc(), RiskWarning.last_seen_at.desc(), RiskWarning.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    return Page(items=items, total=total, page=page, page_size=page_size)


def get_warning(actor: Actor, warning_id: int, *, lock: bool = False) -> RiskWarning:
    """A warning in the officer's region (else 404)."""
    _require_officer(actor)
    stmt = select(RiskWarning).where(RiskWarning.id == warning_id, access.under(actor, RiskWarning.township_code))
    if lock:
        stmt = stmt.with_for_update()
    warning = db.session.scalar(stmt)
    if warning is None:
        raise NotFound("未找到该预警", code="warning_not_found")
    return warning


def view(actor: Actor, warning_id: int) -> RiskWarning:
    """Open a warning with its evidence (department data about a person): audited."""
    warning = get_warning(actor, warning_id)
    audit.record(actor, "warnings.view", warning, region=warning.township_code, reason=warning.reason)
    return warning


def reason_counts(actor: Actor) -> list[tuple[str, str, int]]:
    """Open warnings in scope by reason: (reason, label, count)."""
    _require_officer(actor)
    rows = db.session.execute(
        select(RiskWarning.reason, func.min(RiskWarning.reason_label), func.count())
        .where(access.under(actor, RiskWarning.township_code), RiskWarning.status.in_(OPEN_STATUSES))
        .group_by(RiskWarning.reason)
        .order_by(func.count().desc())
    ).all()
    return [(r, label, n) for r, label, n in rows]


# --- disposing ------------------------------------------------------------------------------------------


def _case_of(warning: RiskWarning) -> Case | None:
    return db.session.get(Case, warning.case_id) if warning.case_id else None


def _close(warning: RiskWarning, status: str) -> None:
    warning.status = status
    warning.open_key = None  # a later hit from another record may open a new warning
    case = _case_of(warning)
    if case is not None and case.status != "closed":
        casework.close(case)


def close(warning: RiskWarning, status: str) -> None:
    """Close a warning and its case (for dispositions kept elsewhere, e.g. core.monitoring.dispositions)."""
    if status not in WARNING_STATUSES or status == "open":
        raise ValueError(f"cannot close a warning as {status!r}")
    _close(warning, status)


def enrollment_of(warning: RiskWarning) -> Enrollment | None:
    return db.session.get(Enrollment, warning.enrollment_id) if warning.enrollment_id else None


def _active_enrollment(warning: RiskWarning) -> Enrollment | None:
    enrollment = enrollment_of(warning)
    return enrollment if enrollment is not None and enrollment.status in ("active", "suspended") else None


def verify(
    actor: Actor, warning_id: int, *, result: str, note: str, data_wrong: bool = False, version: int | None = None
) -> RiskWarning:
    """Record the verification (核查) of an open warning. A true warning about an enrolled person waits for
    the county's action (case stage ``warning_action``); otherwise it is closed."""
    warning = get_warning(actor, warning_id, lock=True)
    errors: dict[str, list[str]] = {}
    note = (note or "").strip()
    if result not in VERIFY_RESULTS:
        errors["result"] = ["请选择核查结论"]
    if not 2 <= len(note) <= 500:
        errors["note"] = ["请填写核查情况（2-500字）"]
    if errors:
        raise ValidationFailed(errors=errors)
    if warning.status != "open":
        raise Conflict("该预警已核查", code="warning_not_open")
    if warning.source == "monitoring":  # its dispositions are core.monitoring.dispositions (转申请、转介 …)
        raise Conflict(
            "动态监测预警请在监测处置表单中办理（核实属实转申请、已在保障、不符合、转介）",
            code="monitoring_disposition_required",
        )
    officer_id = actor.id
    warning.disposition = result
    warning.disposition_note = note
    warning.disposed_by_officer_id = officer_id
    warning.disposed_at = clock.utcnow()
    values = dict(warning.values or {})
    if result == "dismissed":
        if data_wrong:
            values["data_quality_note"] = note  # fed back to the department that sent the record
        warning.values = values
        _close(warning, "dismissed")
    elif _active_enrollment(warning) is not None:
        warning.status = "confirmed"
        case = _case_of(warning)
        if case is not None:
            casework.start_work(case, officer_id=officer_id)
            casework.set_stage(case, "warning_action", workdays.add_working_days(clock.local_today(), 5))
    else:
        _close(warning, "confirmed")
    audit.record(
        actor, f"warnings.verify.{result}", warning, region=warning.township_code, note=note, data_wrong=data_wrong
    )
    return warning


def arrears(enrollment_id: int, since: date) -> tuple[Decimal, list[str]]:
    """Money paid on locked rolls for the months after ``since`` (a death's date): what is to be recovered."""
    first_month = enrollments.add_months(enrollments.month_of(since), 1)
    rows = db.session.execute(
        select(PaymentRoll.month, PaymentRollLine.amount)
        .join(PaymentRoll, PaymentRoll.id == PaymentRollLine.roll_id)
        .where(
            PaymentRollLine.enrollment_id == enrollment_id,
            PaymentRoll.status == "locked",
            PaymentRoll.month >= first_month,
            PaymentRollLine.amount > 0,
        )
        .order_by(PaymentRoll.month)
    ).all()
    return sum((amount for _, amount in rows), Decimal("0.00")), [month for month, _ in rows]


def act(actor: Actor, warning_id: int, *, action: str, reason: str, month: str | None = None) -> RiskWarning:
    """The county's action on a confirmed warning: suspend or end the enrollment (or nothing), then close."""
    if not COUNTY_ROLES & set(actor.roles):
        raise PermissionDenied("暂停或终止救助由县级民政部门决定", code="county_only")
    warning = get_warning(actor, warning_id, lock=True)
    if warning.status != "confirmed":
        raise Conflict("只有核实属实的预警可以处置", code="warning_not_confirmed")
    if action not in ACTIONS:
        raise ValidationFailed(errors={"action": ["请选择处置方式"]})
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not 2 <= len(reason) <= 300:
        errors["reason"] = ["请填写处置原因（2-300字）"]
    if month is not None and not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", month):
        errors["month"] = ["月份格式如 2027-01"]
    if errors:
        raise ValidationFailed(errors=errors)
    enrollment = _active_enrollment(warning)
    values = dict(warning.values or {})
    if action != "none" and enrollment is not None:
        kind = "suspended" if action == "suspend" else "exited"
        if kind == "suspended" and enrollment.status == "suspended":
            pass  # already stopped: nothing more to record on the enrollment
        else:
            enrollments.change(
                actor,
                enrollment,
                kind,
                reason=f"{warning.reason_label}：{reason}",
                month=month,
                source_type="warning",
                source_id=warning.id,
            )
        if warning.event_date is not None:
            amount, months = arrears(enrollment.id, warning.event_date)
            warning.arrears_amount = amount
            values["arrears_months"] = months
    values["action"] = action
    warning.values = values
    _close(warning, "closed")
    audit.record(
        actor,
        f"warnings.act.{action}",
        warning,
        region=warning.township_code,
        reason=reason,
        enrollment_id=enrollment.id if enrollment else None,
        arrears=str(warning.arrears_amount) if warning.arrears_amount is not None else None,
    )
    return warning


def data_quality_notes(actor: Actor, *, limit: int = 200) -> list[RiskWarning]:
    """Dismissed warnings whose department record was wrong (what goes back to the departments)."""
    _require_officer(actor)
    dismissed = db.session.scalars(
        select(RiskWarning)
        .where(access.under(actor, RiskWarning.township_code), RiskWarning.status == "dismissed")
        .order_by(RiskWarning.disposed_at.desc())
        .limit(limit * 5)
    )
    return [w for w in dismissed if (w.values or {}).get("data_quality_note")][:limit]
