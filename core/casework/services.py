"""Cases: the one owner of every Case transition (open, start, pause/resume the clock, assign, prioritise,
escalate, restage, close, reopen, the statutory limit and its extension) and the officer's case look-ups.

Applications, reports, reviews (and later transfers, warnings) never set Case fields themselves: they call
these functions, which check the status transition table and keep the queue columns (stage, next_due) right."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, insert, select

from core import access, clock, workdays
from core.actor import Actor
from core.audit import services as audit
from core.casework.models import CASE_KINDS, CASE_STATUSES, Case
from core.database import db, enqueue_after_commit
from core.errors import Conflict, NotFound, ValidationFailed
from core.regions.services import require_level

ROUTED_TASK = "casework.case_opened"
# the stage a new case of each kind starts in (the queue's bucket); other kinds start in a stage named as the kind
FIRST_STAGE = {"application": "accept", "report": "report", "review": "periodic_review"}


def _reference() -> str:
    return f"JZ{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}"


def open_case(
    actor: Actor,
    *,
    kind: str,
    township_code: str,
    title: str,
    due_in_working_days: int,
    opened_by_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    is_info_copy: bool = False,
    is_proxy: bool = False,
    program: str | None = None,
    household_size: int | None = None,
) -> Case:
    if kind not in CASE_KINDS:
        raise ValidationFailed(errors={"kind": ["案件类型不存在"]})
    township = require_level(township_code, "township", "township_code")
    title = (title or "").strip()
    if not title or len(title) > 100:
        raise ValidationFailed(errors={"title": ["标题为1-100个字符"]})
    case = Case(
        reference=_reference(),
        kind=kind,
        title=title,
        status="open",
        township_code=township.code,
        county_code=township.code[:6],
        city_code=township.code[:4],
        province_code=township.code[:2],
        opened_by_user_id=opened_by_user_id,
        subject_type=subject_type,
        subject_id=subject_id,
        is_info_copy=is_info_copy,
        is_proxy=is_proxy,
        program=program,
        household_size=household_size,
        due_date=workdays.add_working_days(clock.local_today(), due_in_working_days),
    )
    case.stage = "info" if is_info_copy else FIRST_STAGE.get(kind, kind)
    case.next_due = None if is_info_copy else case.due_date
    db.session.add(case)
    db.session.flush()
    audit.record(actor, "case.open", case, region=township.code, kind=kind)
    enqueue_after_commit(ROUTED_TASK, case.id)
    return case


@dataclass(frozen=True)
class CaseSeed:
    """One case of a bulk opening (``open_many``): where, what, about which record, due when."""

    township_code: str
    title: str
    subject_type: str
    subject_id: int
    due_date: date
    program: str | None = None
    household_size: int | None = None


def open_many(actor: Actor, *, kind: str, seeds: list[CaseSeed], audit_target: tuple[str, str]) -> int:
    """Open many cases of one kind at once (a review campaign's thousands of tasks): set-based, one INSERT
    batch, one audit entry for the lot. The townships come from records that reference ``regions`` (no
    look-up per case); the cases are routed at once (no task per case)."""
    if kind not in CASE_KINDS:
        raise ValidationFailed(errors={"kind": ["案件类型不存在"]})
    if not seeds:
        return 0
    now = clock.utcnow()
    stage = FIRST_STAGE.get(kind, kind)
    references: set[str] = set()
    day = f"{clock.local_today():%Y%m%d}"
    while len(references) < len(seeds):  # 48 random bits each: no collision across a county's thousands
        references.add(f"JZ{day}{secrets.token_hex(6).upper()}")
    rows = [
        {
            "reference": reference,
            "kind": kind,
            "title": (seed.title or CASE_KINDS[kind]).strip()[:100],
            "status": "open",
            "township_code": seed.township_code,
            "county_code": seed.township_code[:6],
            "city_code": seed.township_code[:4],
            "province_code": seed.township_code[:2],
            "subject_type": seed.subject_type,
            "subject_id": seed.subject_id,
            "is_info_copy": False,
            "is_proxy": False,
            "program": seed.program,
            "household_size": seed.household_size,
            "due_date": seed.due_date,
            "stage": stage,
            "next_due": seed.due_date,
            "priority": 0,
            "created_at": now,
            "updated_at": now,
            "routed_at": now,
            "version": 1,
        }
        for seed, reference in zip(seeds, sorted(references), strict=True)
    ]
    db.session.execute(insert(Case), rows)
    audit.record(actor, "case.open_many", audit_target, region=actor.region_code, kind=kind, count=len(rows))
    return len(rows)


# status -> the statuses it may move to (a move to the same status is a no-op)
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "closed"}),
    "in_progress": frozenset({"closed"}),
    "closed": frozenset({"open"}),  # reopen (a report taken back from a referral)
}


def _move(case: Case, status: str) -> None:
    if status == case.status:
        return
    if status not in STATUS_TRANSITIONS.get(case.status, frozenset()):
        raise Conflict(f"案件当前状态不能{CASE_STATUSES.get(status, status)}", code="invalid_case_transition")
    case.status = status


def set_stage(case: Case, stage: str, next_due: date | None) -> None:
    """Where the case stands in its workflow and its nearest open deadline (what queues sort on)."""
    if stage == "closed":
        close(case)
        return
    case.stage, case.next_due = stage, next_due


def start_work(case: Case, *, officer_id: int | None = None) -> None:
    """An officer has taken the case up (accepted, first contact made, a workflow step opened)."""
    _move(case, "in_progress")
    if officer_id is not None and case.assignee_officer_id is None:
        case.assignee_officer_id = officer_id


def first_contact_made(case: Case, *, officer_id: int) -> None:
    """A report's first-contact deadline is met: nothing is due until the next action."""
    start_work(case, officer_id=officer_id)
    case.next_due = None


def assign(case: Case, officer_id: int) -> None:
    case.assignee_officer_id = officer_id


def prioritise(case: Case, priority: int) -> None:
    case.priority = priority


def escalate(case: Case, when: datetime) -> bool:
    """Overdue: shown to the county, once. Returns False when already escalated."""
    if case.escalated_at is not None:
        return False
    case.escalated_at = when
    return True


def pause_clock(case: Case) -> None:
    """Waiting for the citizen (补正): the working days left are kept; nothing is overdue meanwhile."""
    if case.clock_paused_at is not None:
        return
    case.clock_paused_at = clock.utcnow()
    case.paused_remaining_days = (
        workdays.working_days_between(clock.local_today(), case.due_date) if case.due_date else None
    )
    case.next_due = None


def resume_clock(case: Case) -> None:
    """The citizen answered: the clock resumes with the working days that were left when it paused."""
    if case.clock_paused_at is None:
        return
    case.due_date = workdays.add_working_days(clock.local_today(), max(1, case.paused_remaining_days or 1))
    case.clock_paused_at = None
    case.paused_remaining_days = None
    case.next_due = case.due_date


def start_limit(case: Case, working_days: int) -> None:
    """Acceptance starts the statutory limit from acceptance to decision."""
    case.accepted_at = clock.utcnow()
    case.limit_date = workdays.add_working_days(clock.local_today(), working_days)


def extend_limit(case: Case, working_days: int, reason: str) -> None:
    """The statutory limit, extended once with a reason."""
    if case.limit_date is None or case.status == "closed":
        raise Conflict("只有办理中的申请可以延长办理期限", code="invalid_transition")
    if case.extended_at is not None:
        raise Conflict("办理期限只能延长一次", code="already_extended")
    case.limit_date = workdays.add_working_days(case.limit_date, working_days)
    case.extended_at, case.extension_reason = clock.utcnow(), reason[:300]


def record_decision(case: Case, when: datetime) -> None:
    case.decided_at = when
    close(case)


def close(case: Case) -> None:
    """Done: off every queue (idempotent)."""
    _move(case, "closed")
    case.stage, case.next_due, case.clock_paused_at = "closed", None, None


def reopen(case: Case, *, stage: str, next_due: date | None) -> None:
    _move(case, "open")
    case.stage, case.next_due = stage, next_due


def mark_routed(case_id: int) -> bool:
    """Task side of opening a case: stamp it as routed to the township. Idempotent."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound()
    if case.routed_at is not None:
        return False
    case.routed_at = clock.utcnow()
    return True


def scope_filter(stmt: Select, actor: Actor) -> Select:
    """Limit a query on Case to the officer's region (core.access: an empty scope sees nothing)."""
    return stmt.where(
        access.at_level(actor, {9: Case.township_code, 6: Case.county_code, 4: Case.city_code, 2: Case.province_code})
    )


@dataclass(frozen=True)
class Page:
    items: list[Case]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def get_case_for_officer(actor: Actor, case_id: int) -> Case:
    case = db.session.scalar(scope_filter(select(Case).where(Case.id == case_id), actor))
    if case is None:
        raise NotFound("未找到该案件", code="case_not_found")
    return case


def get_case_for_citizen(actor: Actor, case_id: int) -> Case:
    case = db.session.scalar(select(Case).where(Case.id == case_id, Case.opened_by_user_id == actor.id))
    if case is None:
        raise NotFound("未找到该案件", code="case_not_found")
    return case


def cases_opened_by(actor: Actor, *, page: int = 1, page_size: int = 20) -> Page:
    """The cases a citizen opened, newest first."""
    stmt = select(Case).where(Case.opened_by_user_id == actor.id)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(Case.created_at.desc(), Case.id.desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return Page(list(rows), total, page, page_size)
