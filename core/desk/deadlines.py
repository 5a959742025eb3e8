"""The deadlines job: overdue steps and cases are stamped and escalated to the county once; officers
get one digest a day through the outbox. Safe to run any number of times."""

from __future__ import annotations

from sqlalchemy import or_, select

from core import clock
from core.accounts import digest as preferences
from core.accounts.models import Officer
from core.actor import Actor
from core.audit import services as audit
from core.casework.models import Case, CaseStep
from core.casework.services import escalate
from core.database import db
from core.desk import queues
from core.notifications import services as outbox

TASK = "casework.check_deadlines"


def check(actor: Actor) -> dict[str, int]:
    today = clock.local_today()
    now = clock.utcnow()
    overdue_steps = db.session.scalars(
        select(CaseStep).where(
            CaseStep.status.in_(("ready", "in_progress")), CaseStep.due_date < today, CaseStep.overdue_at.is_(None)
        )
    ).all()
    for step in overdue_steps:
        step.overdue_at = now
    overdue_cases = db.session.scalars(
        select(Case).where(
            Case.status != "closed",
            Case.is_info_copy.is_(False),
            Case.escalated_at.is_(None),
            or_(Case.next_due < today, Case.limit_date < today),
        )
    ).all()
    for case in overdue_cases:
        escalate(case, now)
        audit.record(
            actor,
            "case.escalate",
            case,
            region=case.township_code,
            next_due=str(case.next_due),
            limit_date=str(case.limit_date),
        )
    digests = _digests(today)
    return {"overdue_steps": len(overdue_steps), "escalated_cases": len(overdue_cases), "digests": digests}


def _digests(today) -> int:  # noqa: ANN001
    """One message per officer per day, to the channel the officer chose: the open, due-soon and overdue
    counts of their region — the same statements as the queue's buckets (set-based: one row per township)."""
    admin = Actor("system", None, ("system_admin",))
    open_count = queues.count_by_township(admin, bucket="all")
    if not open_count:
        return 0
    overdue = queues.count_by_township(admin, bucket="overdue")
    due_soon = queues.count_by_township(admin, bucket="due_soon")
    sent = 0
    for officer in db.session.scalars(
        select(Officer).where(Officer.is_active.is_(True), Officer.region_code.is_not(None), Officer.region_code != "")
    ):
        prefix = officer.region_code
        mine = [t for t in open_count if t.startswith(prefix)]
        if not mine:
            continue
        counts = {
            "date": today.isoformat(),
            "open": sum(open_count[t] for t in mine),
            "due_soon": sum(due_soon.get(t, 0) for t in mine),
            "due_soon_days": queues.DUE_SOON_WORKING_DAYS,
            "overdue": sum(overdue.get(t, 0) for t in mine),
        }
        channel, recipient = preferences.digest_route(officer)
        payload = dict(counts)
        if channel == "wechat":  # a subscription message: its template's fields
            payload = {
                "page": "",
                "data": {
                    "thing1": {"value": "辖区待办提醒"},
                    "number2": {"value": counts["overdue"]},
                    "number3": {"value": counts["due_soon"]},
                    "number4": {"value": counts["open"]},
                    "date5": {"value": counts["date"]},
                },
                **counts,
            }
        message = outbox.enqueue(
            channel, recipient, "daily_digest", payload, dedupe_key=f"digest:{officer.id}:{today.isoformat()}"
        )
        sent += 1 if message.status == "pending" else 0
    return sent
