"""Enrollments (救助对象 / 在保): created once per decision; every change an event, told to the household.

States: active → suspended → active, active|suspended → exited, active|suspended → transferred. An
adjustment keeps the state and changes the amount. The events are the enrollment's history (who, why,
field diff); the household hears of each change (outbox), with the appeal route for reductions and exits.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import access, clock, crypto
from core.accounts.models import User
from core.actor import Actor
from core.applications.models import Application
from core.applications.programs import program_label
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.notifications import services as outbox
from core.registry import persons
from core.registry.models import (
    ENROLLMENT_EVENTS,
    ENROLLMENT_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentMember,
    Person,
)

# Monthly programmes that enroll, and whom: the household (低保) or the one person (特困). 临时救助 and
# 医疗救助 are one-off payments decided on the application; they enroll nobody.
ENROLLED_PROGRAMS = {"dibao": "household", "tekun": "person"}
# Months between reviews: 低保 households twice a year (Lishui), 特困 persons once a year.
REVIEW_INTERVAL_MONTHS = {"dibao": 6, "tekun": 12}
MAX_MONTHLY_AMOUNT = Decimal("100000.00")  # above any standard; keeps Numeric(12, 2) and typos out
APPEAL_TEXT = "如对决定不服，可自收到通知之日起60日内申请行政复议，或6个月内提起行政诉讼"
TEMPLATE = "enrollment_change"

# kind → (states it may leave from, state after)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "adjusted": (frozenset({"active", "suspended"}), None),
    "suspended": (frozenset({"active"}), "suspended"),
    "resumed": (frozenset({"suspended"}), "active"),
    "exited": (frozenset({"active", "suspended"}), "exited"),
    "transferred_out": (frozenset({"active", "suspended"}), "transferred"),
    "reviewed": (frozenset({"active", "suspended"}), None),
}


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, n: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def parse_amount(value: Any, field: str = "amount", *, label: str = "金额") -> Decimal:
    """A money amount: a decimal string or number, 0 ≤ amount ≤ the cap, two decimals."""
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(errors={field: [f"请填写正确的{label}（元）"]}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(errors={field: [f"{label}不能为负数"]})
    if amount > MAX_MONTHLY_AMOUNT:
        raise ValidationFailed(errors={field: [f"{label}不能超过{MAX_MONTHLY_AMOUNT}元"]})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(errors={field: [f"{label}最多保留两位小数"]})
    return amount.quantize(Decimal("0.01"))


def new_reference() -> str:
    """An enrollment's reference, e.g. ``BZ20261203A1B2C3D4`` (unique; a bulk caller re-draws duplicates)."""
    return f"BZ{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}"


_reference = new_reference  # the earlier private name (callers on other branches)


SNAPSHOT_FIELDS = ("status", "monthly_amount", "end_month", "next_review_date", "township_code", "member_count")


def snapshot(enrollment: Enrollment) -> dict[str, Any]:
    return snapshot_of({field: getattr(enrollment, field) for field in SNAPSHOT_FIELDS})


def snapshot_of(values: dict[str, Any]) -> dict[str, Any]:
    """The fields an event's diff shows, from an enrollment's column values."""
    review = values.get("next_review_date")
    return {
        "status": values["status"],
        "monthly_amount": f"{Decimal(values['monthly_amount']):.2f}",
        "end_month": values.get("end_month"),
        "next_review_date": review.isoformat() if review else None,
        "township_code": values["township_code"],
        "member_count": values["member_count"],
    }


def created_diff(values: dict[str, Any]) -> dict[str, list[Any]]:
    """The diff of a "created" (or "transferred_in") event: every snapshot field from nothing."""
    return {k: [None, v] for k, v in snapshot_of(values).items()}


def new_values(
    *,
    decision_ref: str,
    program: str,
    household_id: int | None,
    person_id: int | None,
    member_count: int,
    amount: Decimal,
    start_month: str,
    township_code: str,
    village_code: str | None,
    payee_name: str,
    application_id: int | None = None,
    transferred_from_id: int | None = None,
    decision_reference: str | None = None,
    bank_name: str | None = None,
    bank_account: str | None = None,
    next_review: date | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """The column values of a new enrollment (one place for ``create`` and the set-based import)."""
    if amount < 0:
        raise ValidationFailed(errors={"amount": ["金额不能为负数"]})
    return {
        "reference": reference or new_reference(),
        "decision_ref": decision_ref,
        "program": program,
        "household_id": household_id,
        "person_id": person_id,
        "application_id": application_id,
        "transferred_from_id": transferred_from_id,
        "status": "active",
        "status_reason": None,
        "monthly_amount": amount,
        "member_count": max(1, member_count),
        "start_month": start_month,
        "end_month": None,
        "decision_reference": decision_reference,
        "next_review_date": next_review or month_start(add_months(start_month, REVIEW_INTERVAL_MONTHS.get(program, 6))),
        "township_code": township_code,
        "village_code": village_code,
        "county_code": township_code[:6],
        "payee_name": payee_name,
        "bank_name": bank_name,
        "bank_account_enc": crypto.encrypt(bank_account) if bank_account else None,
        "bank_account_last4": bank_account[-4:] if bank_account else None,
    }


def by_decision(decision_ref: str) -> Enrollment | None:
    return db.session.scalar(select(Enrollment).where(Enrollment.decision_ref == decision_ref))


def create(
    actor: Actor,
    *,
    decision_ref: str,
    program: str,
    household_id: int,
    person_id: int,
    member_ids: list[tuple[int, str | None]],
    amount: Decimal,
    start_month: str,
    township_code: str,
    village_code: str | None,
    payee_name: str,
    application_id: int | None = None,
    transferred_from_id: int | None = None,
    decision_reference: str | None = None,
    bank_name: str | None = None,
    bank_account: str | None = None,
    next_review: date | None = None,
    source_type: str = "application",
    source_id: int | None = None,
    notify: bool = True,
) -> Enrollment:
    """One enrollment per ``decision_ref``: a second call (a retried task, a double click) returns the first.

    The unique decision_ref decides a race on PostgreSQL: the loser's savepoint rolls back and it reads
    the winner's row.
    """
    existing = by_decision(decision_ref)
    if existing is not None:
        return existing
    enrollment = Enrollment(
        **new_values(
            decision_ref=decision_ref,
            program=program,
            household_id=household_id,
            person_id=person_id,
            member_count=len(member_ids),
            amount=amount,
            start_month=start_month,
            township_code=township_code,
            village_code=village_code,
            payee_name=payee_name,
            application_id=application_id,
            transferred_from_id=transferred_from_id,
            decision_reference=decision_reference,
            bank_name=bank_name,
            bank_account=bank_account,
            next_review=next_review,
        )
    )
    try:
        with db.session.begin_nested():
            db.session.add(enrollment)
            db.session.flush()
            for person_ref, relation in member_ids:
                db.session.add(EnrollmentMember(enrollment_id=enrollment.id, person_id=person_ref, relation=relation))
            db.session.flush()
    except IntegrityError:
        winner = by_decision(decision_ref)
        if winner is None:
            raise
        return winner
    event = _event(
        enrollment,
        actor,
        created_kind(source_type),
        reason=None,
        diff=created_diff({field: getattr(enrollment, field) for field in SNAPSHOT_FIELDS}),
        source_type=source_type,
        source_id=source_id,
        month=start_month,
    )
    audit.record(actor, "enrollment.create", enrollment, region=township_code, decision_ref=decision_ref)
    if notify:
        _notify(enrollment, event)
    return enrollment


def enroll_approved(actor: Actor, app: Application) -> Enrollment | None:
    """The decision approved ``app``: enroll its household (低保) or person (特困), once."""
    kind = ENROLLED_PROGRAMS.get(app.program)
    if kind is None or app.status != "approved" or app.approved_amount is None or not app.start_month:
        return None
    existing = by_decision(f"application:{app.id}")
    if existing is not None:
        return existing
    household = persons.household_from_application(app)
    if kind == "household":
        members = [(m.person_id, m.relation) for m in app.members if m.person_id is not None]
    else:
        members = [(app.applicant_person_id, "self")]
    return create(
        actor,
        decision_ref=f"application:{app.id}",
        program=app.program,
        household_id=household.id,
        person_id=app.applicant_person_id,
        member_ids=members,
        amount=Decimal(app.approved_amount),
        start_month=app.start_month,
        township_code=app.residence_township_code,
        village_code=app.residence_village_code,
        payee_name=app.applicant_name or "",
        application_id=app.id,
        decision_reference=app.reference,
        source_type="application",
        source_id=app.id,
    )


def change(
    actor: Actor,
    enrollment: Enrollment,
    kind: str,
    *,
    reason: str | None,
    amount: Decimal | None = None,
    month: str | None = None,
    source_type: str | None = None,
    source_id: int | None = None,
    notify: bool = True,
) -> EnrollmentEvent:
    """Move an enrollment (TRANSITIONS), with the event and the household's notice. ``month``: for an exit or a
    transfer, the last month paid (default: this month); for an adjustment, the first month at the new amount."""
    if kind not in TRANSITIONS:
        raise ValidationFailed(errors={"kind": ["不支持的变更类型"]})
    allowed, after = TRANSITIONS[kind]
    if enrollment.status not in allowed:
        raise Conflict(
            f"该救助对象当前为“{ENROLLMENT_STATUSES[enrollment.status]}”，不能{ENROLLMENT_EVENTS[kind]}",
            code="invalid_enrollment_transition",
        )
    reason = (reason or "").strip() or None
    if kind in ("suspended", "exited", "transferred_out", "adjusted") and not reason:
        raise ValidationFailed(errors={"reason": ["请填写原因"]})
    before = snapshot(enrollment)
    if kind == "adjusted":
        if amount is None:
            raise ValidationFailed(errors={"amount": ["请填写调整后的月发放金额"]})
        enrollment.monthly_amount = Decimal(amount).quantize(Decimal("0.01"))
    if after is not None:
        enrollment.status = after
    enrollment.status_reason = reason if kind != "resumed" else None
    if kind in ("exited", "transferred_out"):
        enrollment.end_month = month or month_of(clock.local_today())
    if kind == "reviewed" or (source_type == "review" and kind != "exited"):
        enrollment.next_review_date = month_start(
            add_months(month_of(clock.local_today()), REVIEW_INTERVAL_MONTHS.get(enrollment.program, 6))
        )
    db.session.flush()
    event = _event(
        enrollment,
        actor,
        kind,
        reason=reason,
        diff=audit.diff(before, snapshot(enrollment)),
        source_type=source_type,
        source_id=source_id,
        month=month,
    )
    audit.record(actor, f"enrollment.{kind}", enrollment, region=enrollment.township_code, reason=reason)
    if notify:
        _notify(enrollment, event, previous_amount=Decimal(before["monthly_amount"]))
    return event


def created_kind(source_type: str | None) -> str:
    """The first event of an enrollment: "transferred_in" when a transfer made it, else "created"."""
    return "transferred_in" if source_type == "transfer" else "created"


def _event(
    enrollment: Enrollment,
    actor: Actor,
    kind: str,
    *,
    reason: str | None,
    diff: dict | None,
    source_type: str | None,
    source_id: int | None,
    month: str | None,
) -> EnrollmentEvent:
    event = EnrollmentEvent(
        enrollment_id=enrollment.id,
        kind=kind,
        actor_type=actor.kind,
        actor_id=actor.id,
        reason=reason,
        diff=diff,
        source_type=source_type,
        source_id=source_id,
        effective_month=month,
        created_at=clock.utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def notice_text(enrollment: Enrollment, event: EnrollmentEvent, previous_amount: Decimal | None = None) -> str:
    """What the household is told, in plain words; reductions, suspensions and exits carry the appeal route."""
    label = program_label(enrollment.program)
    amount = enrollment.monthly_amount
    kind = event.kind
    if kind in ("created", "transferred_in"):
        year, month = enrollment.start_month.split("-")
        verb = "已纳入" if kind == "created" else "已由新户籍地接续"
        return f"您家的{label}{verb}：每月{amount}元，自{year}年{int(month)}月起发放"
    if kind == "adjusted":
        text = f"您家的{label}月发放金额由{previous_amount}元调整为{amount}元。原因：{event.reason}"
        return text + (f"。{APPEAL_TEXT}" if previous_amount is not None and amount < previous_amount else "")
    if kind == "suspended":
        return f"您家的{label}暂停发放。原因：{event.reason}。{APPEAL_TEXT}"
    if kind == "resumed":
        return f"您家的{label}已恢复发放，每月{amount}元"
    if kind == "exited":
        return f"您家的{label}自{enrollment.end_month}后停止发放。原因：{event.reason}。{APPEAL_TEXT}"
    if kind == "transferred_out":
        return f"您家的{label}已转往新户籍地，原县发放至{enrollment.end_month}"
    return f"您家的{label}已完成复核，继续享受，每月{amount}元"


def recipients(enrollment: Enrollment) -> list[User]:
    """The payee's verified log-ins (the household hears through the person who receives the benefit)."""
    payee = db.session.get(Person, enrollment.person_id)
    if payee is None:
        return []
    return [u for u in db.session.scalars(select(User).where(User.id_number == payee.id_number)) if u.is_active]


def _notify(enrollment: Enrollment, event: EnrollmentEvent, previous_amount: Decimal | None = None) -> None:
    text = notice_text(enrollment, event, previous_amount)
    for user in recipients(enrollment):
        channel, address = ("wechat", user.wechat_openid) if user.wechat_openid else ("sms", user.phone)
        if not address:
            continue
        outbox.enqueue(
            channel,
            address,
            TEMPLATE,
            {"program": program_label(enrollment.program), "text": text, "reference": enrollment.reference},
            dedupe_key=f"enrollment-event:{event.id}:{channel}:{user.id}",
        )


def get_for_officer(actor: Actor, enrollment_id: int, *, lock: bool = False) -> Enrollment:
    """An enrollment inside the officer's region, else 404 (``lock``: FOR UPDATE, for a change)."""
    stmt = select(Enrollment).where(Enrollment.id == enrollment_id, access.under(actor, Enrollment.township_code))
    if lock:
        stmt = stmt.with_for_update()
    enrollment = db.session.scalar(stmt)
    if enrollment is None:
        raise NotFound("未找到该救助对象", code="enrollment_not_found")
    return enrollment


def events_of(enrollment_id: int) -> list[EnrollmentEvent]:
    return list(
        db.session.scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == enrollment_id)
            .order_by(EnrollmentEvent.created_at, EnrollmentEvent.id)
        )
    )


def members_of(enrollment_id: int) -> list[tuple[EnrollmentMember, Person]]:
    stmt = (
        select(EnrollmentMember, Person)
        .join(Person, Person.id == EnrollmentMember.person_id)
        .where(EnrollmentMember.enrollment_id == enrollment_id)
        .order_by(EnrollmentMember.id)
    )
    return [(m, p) for m, p in db.session.execute(stmt)]


COUNTY_ROLES = frozenset({"county_officer", "city_admin", "system_admin"})
OFFICER_KINDS = ("adjusted", "suspended", "resumed", "exited")


def officer_change(
    actor: Actor,
    enrollment_id: int,
    kind: str,
    *,
    reason: str | None,
    amount: Any = None,
    month: str | None = None,
    version: int | None = None,
) -> EnrollmentEvent:
    """A county officer adjusts, suspends, resumes or ends an enrollment outside a review (the county decides;
    a township records reviews). The row is locked, and a stale form (another officer changed it) is a 409."""
    enrollment = get_for_officer(actor, enrollment_id, lock=True)
    if not COUNTY_ROLES & set(actor.roles):
        raise PermissionDenied("救助对象的调整、暂停、恢复和退出由县级民政部门决定", code="county_only")
    if version is not None and version != enrollment.version:
        raise Conflict("该救助对象已被他人修改，请刷新后重试", code="edit_conflict")
    if kind not in OFFICER_KINDS:
        raise ValidationFailed(errors={"kind": ["请选择变更类型"]})
    new_amount = parse_amount(amount, "amount", label="调整后的月发放金额") if kind == "adjusted" else None
    if month is not None and month != "":
        if not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", month):
            raise ValidationFailed(errors={"month": ["月份格式如 2027-01"]})
    else:
        month = None
    return change(actor, enrollment, kind, reason=reason, amount=new_amount, month=month, source_type="officer")
