"""Periodic review (复核): a county's campaign turns every current enrollment in scope into a review task and a
case in its township's queue; the township records the outcome after a home visit.

- **Start** (county officers only): every active or suspended enrollment of the programme in the chosen
  townships (or the whole county) becomes a ``ReviewTask`` and a ``Case`` of kind ``review`` (queue bucket
  待复核) — set-based: one INSERT … SELECT for the tasks, one batch for the cases, one UPDATE linking them.
  An enrollment that already has an open task in another open campaign is left out (never reviewed twice at
  once); starts in one county are serialised by a lock on the county's region row. One campaign of a name per
  county: the unique constraint decides a race (the loser gets a 409).
- **Due date**: ``min(the last working day on or before the deadline, REVIEW_TASK_WORKING_DAYS working days
  from the start)``, counted with core.workdays — a review that should take a month does not wait for a
  far deadline, and no task is due after the campaign's deadline.
- **Outcome** (the task's township, or the county): continue / adjust / suspend / exit, each through
  ``core.registry.enrollments.change()`` with ``source_type="review"`` (event, diff, the household's notice
  with the appeal route; the next review date moves on by the programme's interval). The task row is locked
  (FOR UPDATE): a second submit waits, then finds the task done (409 ``review_task_done``).
- **Progress** per township: done, due (open, not overdue), overdue, exits, suspensions, adjustments and the
  amount saved per month (previous − new for exits, suspensions and reductions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from core import access, clock, workdays
from core.actor import Actor
from core.applications.citizen_access import mask_name
from core.applications.programs import PROGRAMS
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.regions.models import Region
from core.regions.services import list_children
from core.registry import enrollments
from core.registry.models import REVIEW_OUTCOMES, Enrollment, ReviewCampaign, ReviewTask

REVIEW_TASK_WORKING_DAYS = 20  # a home visit and its record: about four weeks
REVIEWED_STATUSES = ("active", "suspended")
MAX_CAMPAIGN_DAYS = 366
OUTCOME_KINDS = {"continue": "reviewed", "adjust": "adjusted", "suspend": "suspended", "exit": "exited"}
REASON_REQUIRED = frozenset({"adjust", "suspend", "exit"})
TASK_STATUSES = {"open": "待复核", "done": "已复核", "lapsed": "无需复核（对象已退出或转出）"}
TASK_FILTERS = {"open": "待复核", "due": "未超期", "overdue": "已超期", "done": "已复核", "lapsed": "无需复核"}
SUBJECT = "review_task"  # the cases' subject_type
MAX_VISIT_RECORD = 4000
MONTH_RE = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")


def _county_of(actor: Actor) -> str:
    """The county a county officer acts for; anyone else is refused (403 county_only)."""
    region = access.scope(actor) or ""
    if not enrollments.COUNTY_ROLES & set(actor.roles) or len(region) != 6:
        raise PermissionDenied("复核活动由县级民政部门发起和结束", code="county_only")
    return region


def _last_working_day_on_or_before(day: date) -> date:
    while not workdays.is_workday(day):
        day -= timedelta(days=1)
    return day


def task_due_date(today: date, deadline: date) -> date:
    """min(the last working day on or before the deadline, REVIEW_TASK_WORKING_DAYS working days from today)."""
    return max(
        today, min(_last_working_day_on_or_before(deadline), workdays.add_working_days(today, REVIEW_TASK_WORKING_DAYS))
    )


def _parse_deadline(value: Any, today: date, errors: dict[str, list[str]]) -> date | None:
    if isinstance(value, date):
        deadline = value
    else:
        try:
            deadline = date.fromisoformat(str(value or "").strip())
        except ValueError:
            errors["deadline"] = ["请填写截止日期，如 2027-01-31"]
            return None
    if deadline <= today:
        errors["deadline"] = ["截止日期须晚于今天"]
    elif deadline > today + timedelta(days=MAX_CAMPAIGN_DAYS):
        errors["deadline"] = ["截止日期不能超过一年"]
    return deadline


def start_campaign(
    actor: Actor, *, name: str, program: str, township_codes: list[str] | None, deadline: Any
) -> ReviewCampaign:
    """A county officer starts a campaign: its tasks and their cases are created at once."""
    county = _county_of(actor)
    today = clock.local_today()
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not 2 <= len(name) <= 60:
        errors["name"] = ["请填写复核活动名称（2-60个字），如 2026年下半年复核"]
    if program not in enrollments.ENROLLED_PROGRAMS:
        errors["program"] = ["请选择救助项目"]
    codes = sorted({c.strip() for c in (township_codes or []) if c and c.strip()}) or None
    if codes:
        known = {r.code for r in list_children(county) if r.level == "township"}
        unknown = [c for c in codes if c not in known]
        if unknown:
            errors["township_codes"] = [f"{unknown[0][:12]} 不是本县的乡镇（街道）"]
    day = _parse_deadline(deadline, today, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    assert day is not None
    # one start at a time per county (FOR NO KEY UPDATE on the county's region row, released at commit): a
    # concurrent start of another campaign then sees this one's tasks and leaves those enrollments out
    db.session.execute(select(Region.code).where(Region.code == county).with_for_update(key_share=True))
    if db.session.scalar(select(ReviewCampaign.id).where(_same_name(county, name))) is not None:
        raise _exists(name)
    campaign = ReviewCampaign(
        county_code=county,
        name=name,
        program=program,
        township_codes=codes,
        deadline=day,
        status="open",
        task_count=0,
        created_by_officer_id=actor.id if actor.kind == "officer" else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(campaign)
            db.session.flush()
    except IntegrityError:
        # another start of the same campaign committed first (the unique constraint waited for it)
        raise _exists(name) from None
    due = task_due_date(today, day)
    count = _create_tasks(actor, campaign, due)
    campaign.task_count = count
    audit.record(
        actor, "review.campaign_start", campaign, region=county, program=program, tasks=count, due=due.isoformat()
    )
    db.session.flush()
    return campaign


def _same_name(county: str, name: str) -> Any:
    return and_(ReviewCampaign.county_code == county, ReviewCampaign.name == name)


def _exists(name: str) -> Conflict:
    return Conflict(f"本县已有名为“{name}”的复核活动，不能重复发起", code="review_campaign_exists")


def _create_tasks(actor: Actor, campaign: ReviewCampaign, due: date) -> int:
    """INSERT … SELECT the tasks, one batch of cases, one UPDATE linking each task to its case."""
    busy = exists(
        select(ReviewTask.id)
        .join(ReviewCampaign, ReviewCampaign.id == ReviewTask.campaign_id)
        .where(
            ReviewTask.enrollment_id == Enrollment.id,
            ReviewTask.status == "open",
            ReviewCampaign.status == "open",
            ReviewCampaign.id != campaign.id,
        )
    )
    source = select(
        literal(campaign.id),
        Enrollment.id,
        Enrollment.township_code,
        literal(due),
        literal("open"),
        Enrollment.monthly_amount,
        literal(1),
    ).where(
        access.under(actor, Enrollment.township_code),
        Enrollment.county_code == campaign.county_code,
        Enrollment.program == campaign.program,
        Enrollment.status.in_(REVIEWED_STATUSES),
        ~busy,
    )
    if campaign.township_codes:
        source = source.where(Enrollment.township_code.in_(campaign.township_codes))
    db.session.execute(
        insert(ReviewTask).from_select(
            ["campaign_id", "enrollment_id", "township_code", "due_date", "status", "previous_amount", "version"],
            source,
        )
    )
    rows = db.session.execute(
        select(ReviewTask.id, ReviewTask.township_code, Enrollment.payee_name, Enrollment.member_count)
        .join(Enrollment, Enrollment.id == ReviewTask.enrollment_id)
        .where(ReviewTask.campaign_id == campaign.id)
        .order_by(ReviewTask.id)
    ).all()
    short = PROGRAMS[campaign.program]["short"]
    seeds = [
        casework.CaseSeed(
            township_code=township,
            title=f"{short}复核 · {mask_name(payee)} · {campaign.name}",  # names masked in queues
            subject_type=SUBJECT,
            subject_id=task_id,
            due_date=due,
            program=campaign.program,
            household_size=members,
        )
        for task_id, township, payee, members in rows
    ]
    casework.open_many(actor, kind="review", seeds=seeds, audit_target=("review_campaigns", str(campaign.id)))
    db.session.execute(
        update(ReviewTask)
        .where(ReviewTask.campaign_id == campaign.id)
        .values(
            case_id=select(Case.id)
            .where(Case.subject_type == SUBJECT, Case.subject_id == ReviewTask.id)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False)
    )
    return len(rows)


# --- look-ups (scope from core.access; outside it: 404) -------------------------------------------------


def _campaign_scope(actor: Actor) -> Any:
    """A county's campaign is seen by the county (and above) and by the townships that have tasks in it."""
    has_tasks = exists(
        select(ReviewTask.id).where(
            ReviewTask.campaign_id == ReviewCampaign.id, access.under(actor, ReviewTask.township_code)
        )
    )
    return or_(access.under(actor, ReviewCampaign.county_code), has_tasks)


def list_campaigns(actor: Actor) -> list[ReviewCampaign]:
    stmt = select(ReviewCampaign).where(_campaign_scope(actor))
    return list(db.session.scalars(stmt.order_by(ReviewCampaign.created_at.desc(), ReviewCampaign.id.desc())))


def get_campaign(actor: Actor, campaign_id: int, *, lock: bool = False) -> ReviewCampaign:
    stmt = select(ReviewCampaign).where(ReviewCampaign.id == campaign_id, _campaign_scope(actor))
    if lock:
        stmt = stmt.with_for_update(of=ReviewCampaign).execution_options(populate_existing=True)
    campaign = db.session.scalar(stmt)
    if campaign is None:
        raise NotFound("未找到该复核活动", code="review_campaign_not_found")
    return campaign


def get_task(actor: Actor, task_id: int, *, lock: bool = False) -> ReviewTask:
    """A review task inside the officer's region (its township, or the county above it), else 404."""
    stmt = select(ReviewTask).where(ReviewTask.id == task_id, access.under(actor, ReviewTask.township_code))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    task = db.session.scalar(stmt)
    if task is None:
        raise NotFound("未找到该复核任务", code="review_task_not_found")
    return task


@dataclass(frozen=True)
class TaskPage:
    items: list[tuple[ReviewTask, Enrollment]]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _status_clause(status: str | None, today: date) -> Any:
    if status == "open":
        return ReviewTask.status == "open"
    if status == "due":
        return and_(ReviewTask.status == "open", ReviewTask.due_date >= today)
    if status == "overdue":
        return and_(ReviewTask.status == "open", ReviewTask.due_date < today)
    if status in ("done", "lapsed"):
        return ReviewTask.status == status
    return None


def list_tasks(
    actor: Actor,
    campaign: ReviewCampaign,
    *,
    township: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> TaskPage:
    stmt = (
        select(ReviewTask, Enrollment)
        .join(Enrollment, Enrollment.id == ReviewTask.enrollment_id)
        .where(ReviewTask.campaign_id == campaign.id, access.under(actor, ReviewTask.township_code))
    )
    if township:
        stmt = stmt.where(ReviewTask.township_code == township)
    clause = _status_clause(status, clock.local_today())
    if clause is not None:
        stmt = stmt.where(clause)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.execute(
        stmt.order_by(ReviewTask.status.desc(), ReviewTask.due_date, ReviewTask.township_code, ReviewTask.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return TaskPage([(t, e) for t, e in rows], total, page, page_size)


def task_view(actor: Actor, task_id: int) -> dict[str, Any]:
    """The task page: the task, its campaign, the enrollment, its members and its changes."""
    task = get_task(actor, task_id)
    enrollment = enrollments.get_for_officer(actor, task.enrollment_id)
    return {
        "task": task,
        "campaign": db.session.get(ReviewCampaign, task.campaign_id),
        "enrollment": enrollment,
        "members": enrollments.members_of(enrollment.id),
        "events": enrollments.events_of(enrollment.id),
        "overdue": task.status == "open" and task.due_date < clock.local_today(),
    }


# --- the outcome --------------------------------------------------------------------------------------


def record_outcome(
    actor: Actor,
    task_id: int,
    outcome: str,
    *,
    reason: str | None,
    visit_record: str | None,
    new_amount: Any = None,
    month: str | None = None,
    version: int | None = None,
) -> ReviewTask:
    """The township (or the county) records a review's outcome after the home visit (入户核查)."""
    task = get_task(actor, task_id, lock=True)
    if task.status == "done":
        raise Conflict("该复核任务已记录结果，不能重复记录", code="review_task_done")
    if version is not None and version != task.version:
        raise Conflict("该复核任务已被他人修改，请刷新后重试", code="edit_conflict")
    enrollment = enrollments.get_for_officer(actor, task.enrollment_id, lock=True)
    if enrollment.status not in REVIEWED_STATUSES:
        _lapse(actor, task)
        raise Conflict(
            "该救助对象已退出或转出，本复核任务已结束，无需再记录结果", code="review_task_lapsed", keep_changes=True
        )
    errors: dict[str, list[str]] = {}
    if outcome not in REVIEW_OUTCOMES:
        errors["outcome"] = ["请选择复核结果"]
    reason = (reason or "").strip() or None
    if outcome in REASON_REQUIRED and not reason:
        errors["reason"] = ["请填写原因（将告知家庭）"]
    elif reason and len(reason) > 300:
        errors["reason"] = ["原因不能超过300个字"]
    visit_record = (visit_record or "").strip() or None
    if not visit_record:
        errors["visit_record"] = ["请填写入户核查记录"]
    elif len(visit_record) > MAX_VISIT_RECORD:
        errors["visit_record"] = [f"入户核查记录不能超过{MAX_VISIT_RECORD}个字"]
    previous = Decimal(enrollment.monthly_amount).quantize(Decimal("0.01"))
    amount: Decimal | None = None
    if outcome == "adjust":
        try:
            amount = enrollments.parse_amount(new_amount, "new_amount", label="调整后的月发放金额")
        except DomainError as err:
            errors.update(err.errors)
        else:
            if amount == previous:
                errors["new_amount"] = ["调整后的金额与现金额相同；金额不变请选择“继续享受”"]
    month = (month or "").strip() or None
    if outcome == "exit" and month is not None:
        if not MONTH_RE.fullmatch(month):
            errors["month"] = ["月份格式如 2027-01"]
        elif month < enrollment.start_month:
            errors["month"] = ["最后发放月份不能早于起始月份"]
    if errors:
        raise ValidationFailed(errors=errors)
    enrollments.change(
        actor,
        enrollment,
        OUTCOME_KINDS[outcome],
        reason=reason,
        amount=amount,
        month=month if outcome == "exit" else None,
        source_type="review",
        source_id=task.id,
    )
    task.status = "done"
    task.outcome = outcome
    task.previous_amount = previous
    task.new_amount = {"adjust": amount, "continue": previous}.get(outcome, Decimal("0.00"))
    task.reason = reason
    task.visit_record = visit_record
    task.completed_by_officer_id = actor.id if actor.kind == "officer" else None
    task.completed_at = clock.utcnow()
    _close_case(task)
    db.session.flush()
    audit.record(actor, "review.record", task, region=task.township_code, outcome=outcome)
    return task


def _close_case(task: ReviewTask) -> None:
    case_row = db.session.get(Case, task.case_id) if task.case_id is not None else None
    if case_row is not None:
        casework.close(case_row)


def _lapse(actor: Actor, task: ReviewTask) -> None:
    """The enrollment ended outside the review (the county exited it, a transfer): nothing left to review."""
    task.status = "lapsed"
    task.completed_at = clock.utcnow()
    _close_case(task)
    db.session.flush()
    audit.record(actor, "review.lapse", task, region=task.township_code)


def close_campaign(actor: Actor, campaign_id: int) -> ReviewCampaign:
    """The county ends a campaign once every task has its outcome."""
    campaign = get_campaign(actor, campaign_id, lock=True)
    _county_of(actor)
    if campaign.status == "closed":
        raise Conflict("该复核活动已结束", code="review_campaign_closed")
    ended = db.session.scalars(
        select(ReviewTask)
        .join(Enrollment, Enrollment.id == ReviewTask.enrollment_id)
        .where(
            ReviewTask.campaign_id == campaign.id,
            ReviewTask.status == "open",
            Enrollment.status.not_in(REVIEWED_STATUSES),
        )
    ).all()
    for task in ended:  # exited or transferred meanwhile: these do not hold the campaign open
        _lapse(actor, task)
    left = db.session.scalar(
        select(func.count(ReviewTask.id)).where(ReviewTask.campaign_id == campaign.id, ReviewTask.status == "open")
    )
    if left:
        raise Conflict(
            f"还有{left}户未完成复核，全部完成后才能结束", code="review_campaign_unfinished", keep_changes=True
        )
    campaign.status = "closed"
    audit.record(actor, "review.campaign_close", campaign, region=campaign.county_code)
    return campaign


# --- progress -------------------------------------------------------------------------------------------

PROGRESS_FIELDS = (
    "total",
    "done",
    "due",
    "overdue",
    "lapsed",
    "exits",
    "exit_people",
    "suspended",
    "adjusted",
    "saved",
)


def progress(actor: Actor, campaign: ReviewCampaign) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per township (inside the actor's scope) and in total: one GROUP BY over the campaign's tasks."""
    today = clock.local_today()
    is_open = ReviewTask.status == "open"

    def flag(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    saved = case(
        (ReviewTask.outcome.in_(("exit", "suspend")), ReviewTask.previous_amount),
        (
            and_(ReviewTask.outcome == "adjust", ReviewTask.new_amount < ReviewTask.previous_amount),
            ReviewTask.previous_amount - ReviewTask.new_amount,
        ),
        else_=literal(Decimal("0.00")),
    )
    exit_people = case((ReviewTask.outcome == "exit", Enrollment.member_count), else_=0)
    stmt = (
        select(
            ReviewTask.township_code,
            func.count(ReviewTask.id),
            flag(ReviewTask.status == "done"),
            flag(and_(is_open, ReviewTask.due_date >= today)),
            flag(and_(is_open, ReviewTask.due_date < today)),
            flag(ReviewTask.status == "lapsed"),
            flag(ReviewTask.outcome == "exit"),
            func.coalesce(func.sum(exit_people), 0),
            flag(ReviewTask.outcome == "suspend"),
            flag(ReviewTask.outcome == "adjust"),
            func.coalesce(func.sum(saved), 0),
        )
        .join(Enrollment, Enrollment.id == ReviewTask.enrollment_id)
        .where(ReviewTask.campaign_id == campaign.id, access.under(actor, ReviewTask.township_code))
        .group_by(ReviewTask.township_code)
        .order_by(ReviewTask.township_code)
    )
    rows = []
    for township, *figures in db.session.execute(stmt).all():
        row = dict(zip(PROGRESS_FIELDS, figures, strict=True))
        row = {k: int(v) for k, v in row.items() if k != "saved"} | {"saved": _money(row["saved"])}
        rows.append({"township_code": township, **row})
    total = {k: sum((r[k] for r in rows), Decimal("0.00") if k == "saved" else 0) for k in PROGRESS_FIELDS}
    return rows, total


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


PROGRESS_HEADER = [
    "乡镇（街道）",
    "复核户数",
    "已复核",
    "待复核（未超期）",
    "已超期",
    "无需复核",
    "退出户数",
    "退出人数",
    "暂停发放",
    "调整金额",
    "每月节约资金（元）",
]


def progress_rows(rows: list[dict[str, Any]], total: dict[str, Any], names: dict[str, str]) -> list[list[Any]]:
    """The progress table as spreadsheet rows: header, one row per township, the total row."""
    out: list[list[Any]] = [PROGRESS_HEADER]
    for r in rows:
        out.append([names.get(r["township_code"], r["township_code"]), *(r[k] for k in PROGRESS_FIELDS)])
    out.append(["合计", *(total[k] for k in PROGRESS_FIELDS)])
    return out


TASK_HEADER = [
    "乡镇（街道）",
    "户主（领款人）",
    "保障人数",
    "状态",
    "复核期限",
    "复核结果",
    "原月发放金额（元）",
    "复核后月发放金额（元）",
    "原因",
    "完成时间",
]


def task_rows(actor: Actor, campaign: ReviewCampaign, names: dict[str, str]) -> list[list[Any]]:
    """Every task of the campaign in the actor's scope (no ID numbers)."""
    stmt = (
        select(ReviewTask, Enrollment.payee_name, Enrollment.member_count)
        .join(Enrollment, Enrollment.id == ReviewTask.enrollment_id)
        .where(ReviewTask.campaign_id == campaign.id, access.under(actor, ReviewTask.township_code))
        .order_by(ReviewTask.township_code, ReviewTask.id)
    )
    out: list[list[Any]] = [TASK_HEADER]
    for task, payee, members in db.session.execute(stmt).all():
        out.append(
            [
                names.get(task.township_code, task.township_code),
                payee,
                members,
                TASK_STATUSES[task.status],
                task.due_date,
                REVIEW_OUTCOMES.get(task.outcome or "", ""),
                task.previous_amount,
                task.new_amount,
                task.reason or "",
                clock.to_local(task.completed_at).replace(tzinfo=None) if task.completed_at else None,
            ]
        )
    return out
