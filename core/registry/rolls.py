"""Monthly payment rolls (发放名册): drafted set-based, submitted by one county officer, locked by another.

A roll is one county's list for one month (YYYY-MM). Drafting is one ``INSERT … SELECT`` from the
enrollments (no ORM object per line), joined to the previous month's roll to say what changed:

- paid this month — started (``start_month <= month``) and not ended (active, or exited / transferred
  with a last paid month ``end_month >= month``) — at the enrollment's monthly amount, marked
  ``new`` / ``unchanged`` / ``adjusted`` (the previous amount kept) / ``resumed`` (0 last month) /
  ``transferred_in`` (an enrollment continued from another county, not on last month's roll);
- ``suspended``: listed at 0 every month while suspended;
- ``exited`` / ``transferred_out``: listed once, at 0, in the month after the last paid month.

A draft may be re-drafted (its lines are replaced); a submitted or locked roll never is. The lock needs a
second county officer (drafter and submitter ≠ approver), and a locked roll never changes by any route:
this module refuses, and database triggers (migration ``d1e2f3a4b5c6``) refuse UPDATE / DELETE of a locked
roll and any INSERT / UPDATE / DELETE of its lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, literal, literal_column, or_, select
from sqlalchemy.exc import IntegrityError

from core import access, clock
from core.accounts.models import Officer
from core.actor import SYSTEM, Actor
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.regions.models import Region
from core.registry.enrollments import COUNTY_ROLES, add_months
from core.registry.models import ROLL_CHANGES, ROLL_STATUSES, Enrollment, PaymentRoll, PaymentRollLine

MONTH = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")
COUNTY = re.compile(r"[0-9]{6}")
CENT = Decimal("0.01")
PAYABLE_CHANGES = ("new", "adjusted", "unchanged", "resumed", "transferred_in")


def _check_month(month: str, field: str = "month") -> str:
    month = (month or "").strip()
    if not MONTH.fullmatch(month):
        raise ValidationFailed(errors={field: ["月份格式如 2027-01"]})
    return month


def _check_county(county_code: str, field: str = "county_code") -> str:
    county_code = (county_code or "").strip()
    if not COUNTY.fullmatch(county_code):
        raise ValidationFailed(errors={field: ["请填写6位县级行政区划代码"]})
    return county_code


def cents_to_amount(value: Any) -> Decimal:
    """A sum of cents from SQL (an integer, or a float on SQLite) as exact yuan."""
    if value is None:
        return Decimal("0.00")
    return (Decimal(round(Decimal(str(value)))) / 100).quantize(CENT)


def cents(column: Any) -> Any:
    """SUM of a money column in whole cents: exact on PostgreSQL and on SQLite (which stores REAL)."""
    return func.coalesce(func.sum(func.round(column * 100)), 0)


# --- which enrollments a month's roll lists --------------------------------------------------------------
def paid_in(month: str) -> Any:
    """An enrollment is paid in ``month``: started, and active or ended no earlier than that month."""
    e = Enrollment
    return and_(
        e.start_month <= month,
        or_(
            and_(e.status == "active", or_(e.end_month.is_(None), e.end_month >= month)),
            and_(e.status.in_(("exited", "transferred")), e.end_month.is_not(None), e.end_month >= month),
        ),
    )


def _suspended_in(month: str) -> Any:
    return and_(Enrollment.start_month <= month, Enrollment.status == "suspended")


def _ended_before(month: str) -> Any:
    """Exited or transferred away with the previous month as the last paid one (listed once, at 0)."""
    previous = add_months(month, -1)
    return and_(
        Enrollment.status.in_(("exited", "transferred")),
        Enrollment.end_month == previous,
        Enrollment.start_month <= previous,
    )


def _line_select(roll_id: int, county_code: str, month: str, previous_roll_id: int | None) -> Any:
    e = Enrollment
    prev = PaymentRollLine.__table__.alias("prev")
    paid, suspended, ended = paid_in(month), _suspended_in(month), _ended_before(month)
    first_seen = case(
        (e.transferred_from_id.is_not(None), literal("transferred_in")),
        (e.start_month == month, literal("new")),
        # No roll last month to compare with (a county's first roll): an earlier start is not news.
        else_=literal("new" if previous_roll_id is not None else "unchanged"),
    )
    change = case(
        (and_(ended, e.status == "exited"), literal("exited")),
        (ended, literal("transferred_out")),
        (suspended, literal("suspended")),
        (prev.c.id.is_(None), first_seen),
        (prev.c.amount == 0, literal("resumed")),
        (prev.c.amount != e.monthly_amount, literal("adjusted")),
        else_=literal("unchanged"),
    )
    amount = case((paid, e.monthly_amount), else_=literal_column("0"))
    join_on = and_(prev.c.enrollment_id == e.id, prev.c.roll_id == (previous_roll_id or -1))
    return (
        select(
            literal(roll_id).label("roll_id"),
            e.id,
            e.township_code,
            e.village_code,
            e.program,
            e.payee_name,
            e.member_count,
            amount.label("amount"),
            prev.c.amount.label("previous_amount"),
            change.label("change"),
        )
        .select_from(e)
        .outerjoin(prev, join_on)
        .where(e.county_code == county_code, or_(paid, suspended, ended))
        .order_by(e.township_code, e.village_code, e.id)
    )


LINE_COLUMNS = [
    "roll_id",
    "enrollment_id",
    "township_code",
    "village_code",
    "program",
    "payee_name",
    "member_count",
    "amount",
    "previous_amount",
    "change",
]


def _roll_row(county_code: str, month: str, *, lock: bool = True) -> PaymentRoll | None:
    stmt = select(PaymentRoll).where(PaymentRoll.county_code == county_code, PaymentRoll.month == month)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _get_or_create(county_code: str, month: str) -> PaymentRoll:
    """The county's roll for the month, row-locked; two drafts racing on a new one: the unique
    (county, month) decides, the loser waits for the winner's commit and then locks its row."""
    roll = _roll_row(county_code, month)
    if roll is not None:
        return roll
    try:
        with db.session.begin_nested():
            roll = PaymentRoll(county_code=county_code, month=month, status="draft", total_amount=Decimal("0"))
            db.session.add(roll)
            db.session.flush()
        return roll
    except IntegrityError:
        winner = _roll_row(county_code, month)
        if winner is None:
            raise
        return winner


def _not_draft(roll: PaymentRoll) -> Conflict:
    return Conflict(
        f"{roll.month}发放名册{ROLL_STATUSES[roll.status]}，不能重新生成",
        code="roll_not_draft",
    )


def _officer_id(actor: Actor) -> int | None:
    return actor.id if actor.kind == "officer" else None


def draft_roll(county_code: str, month: str, *, actor: Actor = SYSTEM) -> PaymentRoll:
    """Draft (or re-draft, replacing the lines of a still-draft roll) the county's roll for ``month``.

    Set-based: one DELETE and one INSERT … SELECT, then one aggregate. A submitted or locked roll is
    refused (409 ``roll_not_draft``). The caller commits."""
    county_code = _check_county(county_code)
    month = _check_month(month)
    roll = _get_or_create(county_code, month)
    if roll.status != "draft":
        raise _not_draft(roll)
    previous = _roll_row(county_code, add_months(month, -1), lock=False)
    db.session.execute(
        delete(PaymentRollLine).where(PaymentRollLine.roll_id == roll.id).execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(PaymentRollLine).from_select(
            LINE_COLUMNS, _line_select(roll.id, county_code, month, previous.id if previous else None)
        )
    )
    count, payable, total = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((PaymentRollLine.amount > 0, 1), else_=0)), 0),
            cents(PaymentRollLine.amount),
        ).where(PaymentRollLine.roll_id == roll.id)
    ).one()
    roll.line_count = int(count)
    roll.payable_count = int(payable)
    roll.total_amount = cents_to_amount(total)
    roll.drafted_at = clock.utcnow()
    roll.drafted_by_officer_id = _officer_id(actor)
    db.session.flush()
    audit.record(
        actor,
        "payment_roll.draft",
        roll,
        region=county_code,
        month=month,
        lines=roll.line_count,
        total=roll.total_amount,
    )
    return roll


# --- officers: scope, submit, lock, reopen -----------------------------------------------------------------
def roll_scope(actor: Actor) -> Any:
    """Rolls an officer may open: their county's and those below their region (a township officer reads
    the roll of the county their township belongs to, and only their township's lines)."""
    own = access.scope(actor)
    if not access.sees_everything(actor) and own and len(own) > 6:
        return PaymentRoll.county_code == own[:6]
    return access.under(actor, PaymentRoll.county_code)


def line_scope(actor: Actor) -> Any:
    return access.under(actor, PaymentRollLine.township_code)


def is_county(actor: Actor) -> bool:
    return bool(COUNTY_ROLES & set(actor.roles))


def get_for_officer(actor: Actor, roll_id: int, *, lock: bool = False) -> PaymentRoll:
    stmt = select(PaymentRoll).where(PaymentRoll.id == roll_id, roll_scope(actor))
    if lock:
        stmt = stmt.with_for_update()
    roll = db.session.scalar(stmt)
    if roll is None:
        raise NotFound("未找到该发放名册", code="roll_not_found")
    return roll


def require_county(actor: Actor) -> None:
    if not is_county(actor):
        raise PermissionDenied("发放名册由县级民政部门生成、提交和审核", code="county_only")


def _check_version(roll: PaymentRoll, version: int | None) -> None:
    if version is not None and version != roll.version:
        raise Conflict("该发放名册已被他人修改，请刷新后重试", code="edit_conflict")


def officer_draft(actor: Actor, county_code: str | None, month: str) -> PaymentRoll:
    """A county officer drafts (or re-drafts) a roll of a county in their region."""
    require_county(actor)
    own = access.scope(actor)
    county_code = _check_county(county_code or (own if own and len(own) == 6 else ""))
    month = _check_month(month)
    if not access.can_see(actor, county_code):
        raise NotFound("未找到该县（市、区）", code="roll_not_found")
    region = db.session.get(Region, county_code)
    if region is None or region.level != "county":
        raise ValidationFailed(errors={"county_code": [f"{county_code} 不是县级行政区划代码"]})
    return draft_roll(county_code, month, actor=actor)


def officer_redraft(actor: Actor, roll_id: int, *, version: int | None) -> PaymentRoll:
    roll = get_for_officer(actor, roll_id, lock=True)
    require_county(actor)
    _check_version(roll, version)
    if roll.status != "draft":
        raise _not_draft(roll)
    return draft_roll(roll.county_code, roll.month, actor=actor)


def outdated_count(roll: PaymentRoll) -> int:
    """Enrollments whose line no longer matches (an amount changed, someone started, stopped, was
    suspended or resumed since the draft): paid enrollments without a line at their amount, plus paid
    lines of enrollments no longer paid."""
    e, line = Enrollment, PaymentRollLine
    in_county = and_(e.county_code == roll.county_code, paid_in(roll.month))
    missing = db.session.scalar(
        select(func.count())
        .select_from(e)
        .where(
            in_county,
            ~exists().where(line.roll_id == roll.id, line.enrollment_id == e.id, line.amount == e.monthly_amount),
        )
    )
    extra = db.session.scalar(
        select(func.count())
        .select_from(line)
        .where(
            line.roll_id == roll.id,
            line.amount > 0,
            ~exists().where(e.id == line.enrollment_id, in_county),  # a changed amount counts once, above
        )
    )
    return int(missing or 0) + int(extra or 0)


def _require_current(roll: PaymentRoll, then: str) -> None:
    stale = outdated_count(roll)
    if stale:
        raise Conflict(
            f"名册生成后救助对象有变化（{stale}条不一致），请{then}",
            code="roll_outdated",
        )


def submit(actor: Actor, roll_id: int, *, version: int | None) -> PaymentRoll:
    """A county officer submits a draft for review (it must match the enrollments as they are now)."""
    roll = get_for_officer(actor, roll_id, lock=True)
    require_county(actor)
    _check_version(roll, version)
    if roll.status != "draft":
        raise Conflict(f"该发放名册{ROLL_STATUSES[roll.status]}，不能重复提交", code="roll_not_draft")
    if roll.line_count == 0:
        raise Conflict("发放名册没有任何对象，不能提交", code="roll_empty")
    _require_current(roll, "重新生成草稿后再提交")
    roll.status = "submitted"
    roll.submitted_at = clock.utcnow()
    roll.submitted_by_officer_id = actor.id
    db.session.flush()
    audit.record(actor, "payment_roll.submit", roll, region=roll.county_code, month=roll.month)
    return roll


def lock(actor: Actor, roll_id: int, *, version: int | None) -> PaymentRoll:
    """Another county officer checks and locks a submitted roll (two-person rule); from then on it never
    changes."""
    roll = get_for_officer(actor, roll_id, lock=True)
    require_county(actor)
    _check_version(roll, version)
    if roll.status == "locked":
        raise Conflict("该发放名册已锁定", code="roll_locked")
    if roll.status != "submitted":
        raise Conflict("发放名册须先提交审核，才能审核锁定", code="roll_not_submitted")
    if actor.id is None or actor.id in (roll.submitted_by_officer_id, roll.drafted_by_officer_id):
        raise PermissionDenied(
            "审核锁定须由生成和提交名册以外的另一名县级经办人员办理（双人复核）", code="roll_two_person"
        )
    _require_current(roll, "退回修改，重新生成草稿")
    roll.status = "locked"
    roll.locked_at = clock.utcnow()
    roll.locked_by_officer_id = actor.id
    db.session.flush()
    audit.record(actor, "payment_roll.lock", roll, region=roll.county_code, month=roll.month, total=roll.total_amount)
    return roll


def reopen(actor: Actor, roll_id: int, *, version: int | None, reason: str | None) -> PaymentRoll:
    """The reviewer sends a submitted roll back to draft (退回修改), with a reason. A locked roll: never."""
    roll = get_for_officer(actor, roll_id, lock=True)
    require_county(actor)
    _check_version(roll, version)
    if roll.status == "locked":
        raise Conflict("该发放名册已锁定，不能退回", code="roll_locked")
    if roll.status != "submitted":
        raise Conflict("只有待审核的发放名册可以退回", code="roll_not_submitted")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写退回原因"]})
    roll.status = "draft"
    roll.submitted_at = None
    roll.submitted_by_officer_id = None
    db.session.flush()
    audit.record(actor, "payment_roll.reopen", roll, region=roll.county_code, month=roll.month, reason=reason[:300])
    return roll


# --- the beat job ---------------------------------------------------------------------------------------------
def next_month(today: Any = None) -> str:
    day = today or clock.local_today()
    return add_months(f"{day.year:04d}-{day.month:02d}", 1)


def counties_for(month: str) -> list[str]:
    """Counties with someone to list in ``month`` (paid, suspended, or leaving the month before)."""
    rows = db.session.scalars(
        select(Enrollment.county_code)
        .where(or_(paid_in(month), _suspended_in(month), _ended_before(month)))
        .group_by(Enrollment.county_code)
        .order_by(Enrollment.county_code)
    )
    return list(rows)


@dataclass
class DraftRun:
    month: str
    drafted: list[str]
    skipped: list[str]


def draft_due_rolls(month: str | None = None, *, actor: Actor = SYSTEM) -> DraftRun:
    """Draft (or refresh the draft of) ``month``'s roll — default: next month — for every county with
    enrollments; a county whose roll is already submitted or locked is skipped. Safe to run twice."""
    month = _check_month(month or next_month())
    run = DraftRun(month, [], [])
    for county_code in counties_for(month):
        existing = _roll_row(county_code, month, lock=False)
        if existing is not None and existing.status != "draft":
            run.skipped.append(county_code)
            continue
        try:
            with db.session.begin_nested():
                draft_roll(county_code, month, actor=actor)
        except Conflict:  # submitted by an officer meanwhile
            run.skipped.append(county_code)
            continue
        run.drafted.append(county_code)
    return run


# --- what officers read -------------------------------------------------------------------------------------
@dataclass
class LinePage:
    items: list[Any]
    total: int


def list_rolls(actor: Actor, *, limit: int = 60) -> list[PaymentRoll]:
    return list(
        db.session.scalars(
            select(PaymentRoll)
            .where(roll_scope(actor))
            .order_by(PaymentRoll.month.desc(), PaymentRoll.county_code)
            .limit(limit)
        )
    )


def _line_filters(actor: Actor, roll: PaymentRoll, change: str | None, township: str | None) -> list[Any]:
    where = [PaymentRollLine.roll_id == roll.id, line_scope(actor)]
    if change in ROLL_CHANGES:
        where.append(PaymentRollLine.change == change)
    if township:
        where.append(PaymentRollLine.township_code == township)
    return where


def lines(
    actor: Actor,
    roll: PaymentRoll,
    *,
    change: str | None = None,
    township: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> LinePage:
    """One page of the roll's lines in the actor's region, with the enrollment's bank (last four only)."""
    where = _line_filters(actor, roll, change, township)
    total = db.session.scalar(select(func.count()).select_from(PaymentRollLine).where(*where)) or 0
    rows = db.session.execute(
        select(PaymentRollLine, Enrollment.reference, Enrollment.bank_name, Enrollment.bank_account_last4)
        .join(Enrollment, Enrollment.id == PaymentRollLine.enrollment_id)
        .where(*where)
        .order_by(PaymentRollLine.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    items = [
        {
            "line": line,
            "reference": reference,
            "bank_name": bank_name,
            "bank_account_masked": f"****{last4}" if last4 else "",
        }
        for line, reference, bank_name, last4 in rows
    ]
    return LinePage(items, total)


def summary(actor: Actor, roll: PaymentRoll) -> dict[str, Any]:
    """Counts and amounts per township and per change type (inside the actor's region)."""
    scope = [PaymentRollLine.roll_id == roll.id, line_scope(actor)]
    payable = func.coalesce(func.sum(case((PaymentRollLine.amount > 0, 1), else_=0)), 0)
    by_township = [
        {"township_code": code, "lines": int(n), "payable": int(p), "amount": cents_to_amount(c)}
        for code, n, p, c in db.session.execute(
            select(PaymentRollLine.township_code, func.count(), payable, cents(PaymentRollLine.amount))
            .where(*scope)
            .group_by(PaymentRollLine.township_code)
            .order_by(PaymentRollLine.township_code)
        )
    ]
    counts = dict(
        db.session.execute(
            select(PaymentRollLine.change, func.count()).where(*scope).group_by(PaymentRollLine.change)
        ).all()
    )
    by_change = [{"change": k, "label": v, "lines": int(counts.get(k, 0))} for k, v in ROLL_CHANGES.items()]
    return {
        "by_township": by_township,
        "by_change": by_change,
        "lines": sum(t["lines"] for t in by_township),
        "payable": sum(t["payable"] for t in by_township),
        "amount": sum((t["amount"] for t in by_township), Decimal("0.00")),
    }


def officer_names(rows: list[PaymentRoll]) -> dict[int, str]:
    """Who drafted, submitted and locked these rolls (officer id → display name)."""
    ids = {
        i
        for r in rows
        for i in (r.drafted_by_officer_id, r.submitted_by_officer_id, r.locked_by_officer_id)
        if i is not None
    }
    if not ids:
        return {}
    return dict(db.session.execute(select(Officer.id, Officer.display_name).where(Officer.id.in_(ids))).all())


def township_codes(actor: Actor, roll: PaymentRoll) -> list[str]:
    return list(
        db.session.scalars(
            select(PaymentRollLine.township_code)
            .where(PaymentRollLine.roll_id == roll.id, line_scope(actor))
            .group_by(PaymentRollLine.township_code)
            .order_by(PaymentRollLine.township_code)
        )
    )


def paid_total(county_code: str, month: str) -> Decimal:
    """The sum of the monthly amounts of the county's enrollments paid in ``month`` (reconciliation)."""
    total = db.session.scalar(
        select(cents(Enrollment.monthly_amount)).where(Enrollment.county_code == county_code, paid_in(month))
    )
    return cents_to_amount(total)
