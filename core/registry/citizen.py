"""What a citizen sees of the registry: my household's benefits (我的待遇).

A verified person sees every enrollment that covers them (as payee or member) — amount, months paid (the
locked rolls), the next review, open transfers, and the history in plain words. Before real-name
verification the list is empty; another household's enrollment is a 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.accounts.models import User
from core.applications.programs import program_label
from core.database import db
from core.errors import NotFound
from core.identity import services as identity
from core.regions.services import names_for
from core.registry.enrollments import APPEAL_TEXT
from core.registry.models import (
    ENROLLMENT_EVENTS,
    ENROLLMENT_STATUSES,
    TRANSFER_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentMember,
    PaymentRoll,
    PaymentRollLine,
    Transfer,
)
from core.registry.persons import find_person

HISTORY_LIMIT = 50


def _my_enrollment_ids(user: User) -> list[int]:
    if not identity.is_verified(user):
        return []
    person = find_person(user.id_number)
    if person is None:
        return []
    covered = select(EnrollmentMember.enrollment_id).where(EnrollmentMember.person_id == person.id)
    return list(
        db.session.scalars(
            select(Enrollment.id)
            .where((Enrollment.person_id == person.id) | Enrollment.id.in_(covered))
            .order_by(Enrollment.id.desc())
        )
    )


def my_enrollment_ids(user: User) -> list[int]:
    """The ids of the enrollments that cover the verified user (payee or member), newest first."""
    return _my_enrollment_ids(user)


def _paid(ids: list[int]) -> dict[int, tuple[int, str | None]]:
    """enrollment id → (months paid on locked rolls, the last such month)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(PaymentRollLine.enrollment_id, func.count(), func.max(PaymentRoll.month))
        .join(PaymentRoll, PaymentRoll.id == PaymentRollLine.roll_id)
        .where(
            PaymentRollLine.enrollment_id.in_(ids),
            PaymentRoll.status == "locked",
            PaymentRollLine.amount > 0,
        )
        .group_by(PaymentRollLine.enrollment_id)
    ).all()
    return {eid: (count, last) for eid, count, last in rows}


def _transfers(ids: list[int]) -> dict[int, list[Transfer]]:
    result: dict[int, list[Transfer]] = {}
    if not ids:
        return result
    for transfer in db.session.scalars(
        select(Transfer).where(Transfer.enrollment_id.in_(ids)).order_by(Transfer.id.desc())
    ):
        result.setdefault(transfer.enrollment_id, []).append(transfer)
    return result


def _view(
    enrollment: Enrollment,
    paid: tuple[int, str | None],
    transfers: list[Transfer],
    names: dict[str, str],
    *,
    with_history: bool,
) -> dict[str, Any]:
    open_transfer = next((t for t in transfers if t.status in ("requested", "released")), None)
    view: dict[str, Any] = {
        "id": enrollment.id,
        "reference": enrollment.reference,
        "program": enrollment.program,
        "program_label": program_label(enrollment.program),
        "status": enrollment.status,
        "status_label": ENROLLMENT_STATUSES[enrollment.status],
        "status_reason": enrollment.status_reason,
        "monthly_amount": enrollment.monthly_amount,
        "member_count": enrollment.member_count,
        "start_month": enrollment.start_month,
        "end_month": enrollment.end_month,
        "months_paid": paid[0],
        "last_paid_month": paid[1],
        "next_review_date": enrollment.next_review_date if enrollment.status in ("active", "suspended") else None,
        "township_code": enrollment.township_code,
        "township_name": names.get(enrollment.township_code),
        "bank_account_masked": f"****{enrollment.bank_account_last4}" if enrollment.bank_account_last4 else None,
        "open_transfer": (
            {
                "id": open_transfer.id,
                "status": open_transfer.status,
                "status_label": TRANSFER_STATUSES[open_transfer.status],
                "to_township_code": open_transfer.to_township_code,
                "to_township_name": names.get(open_transfer.to_township_code),
            }
            if open_transfer
            else None
        ),
        "can_transfer": enrollment.status in ("active", "suspended") and open_transfer is None,
        "appeal_route": APPEAL_TEXT,
    }
    if with_history:
        events = db.session.scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == enrollment.id)
            .order_by(EnrollmentEvent.created_at.desc(), EnrollmentEvent.id.desc())
            .limit(HISTORY_LIMIT)
        ).all()
        view["history"] = [
            {
                "kind": event.kind,
                "kind_label": ENROLLMENT_EVENTS[event.kind],
                "text": history_text(event),
                "reason": event.reason,
                "at": event.created_at,
            }
            for event in events
        ]
    return view


def history_text(event: EnrollmentEvent) -> str:
    """One line of an enrollment's history in plain words, from the event's own diff (not today's values)."""
    diff = event.diff or {}
    label = ENROLLMENT_EVENTS[event.kind]
    amount = diff.get("monthly_amount")
    if event.kind in ("created", "transferred_in") and amount:
        month = event.effective_month or ""
        since = f"，自{month[:4]}年{int(month[5:7])}月起" if len(month) == 7 else ""
        return f"{label}：每月{amount[1]}元{since}"
    if event.kind == "adjusted" and amount:
        return f"{label}：由{amount[0]}元调整为{amount[1]}元。原因：{event.reason}"
    if event.kind in ("exited", "transferred_out"):
        end = (diff.get("end_month") or [None, None])[1]
        text = f"{label}，最后发放月份{end}" if end else label
        return f"{text}。原因：{event.reason}" if event.reason else text
    return f"{label}。原因：{event.reason}" if event.reason else label


def benefits_for(user: User) -> list[dict[str, Any]]:
    """My household's enrollments, newest first (empty before real-name verification)."""
    ids = _my_enrollment_ids(user)
    if not ids:
        return []
    enrollments = db.session.scalars(select(Enrollment).where(Enrollment.id.in_(ids)).order_by(Enrollment.id.desc()))
    paid, transfers = _paid(ids), _transfers(ids)
    rows = list(enrollments)
    names = names_for(
        {e.township_code for e in rows} | {t.to_township_code for group in transfers.values() for t in group}
    )
    return [_view(e, paid.get(e.id, (0, None)), transfers.get(e.id, []), names, with_history=False) for e in rows]


def benefit_for(user: User, enrollment_id: int) -> dict[str, Any]:
    """One of my household's enrollments with its history; anyone else's is a 404."""
    if enrollment_id not in _my_enrollment_ids(user):
        raise NotFound("未找到该待遇记录", code="benefit_not_found")
    enrollment = db.session.get(Enrollment, enrollment_id)
    transfers = _transfers([enrollment_id]).get(enrollment_id, [])
    names = names_for({enrollment.township_code} | {t.to_township_code for t in transfers})
    paid = _paid([enrollment_id]).get(enrollment_id, (0, None))
    return _view(enrollment, paid, transfers, names, with_history=True)


def covers_user(user: User, enrollment_id: int) -> bool:
    """Whether the verified user is the payee or a member of the enrollment (the transfer request's check)."""
    return enrollment_id in _my_enrollment_ids(user)
