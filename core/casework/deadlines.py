"""The deadlines job: overdue steps and cases are stamped and escalated to the county once; officers
get one digest a day through the outbox. Safe to run any number of times."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import case as sql_case
from sqlalchemy import func, or_, select

from core import clock, workdays
from core.accounts.models import Officer
from core.actor import Actor
from core.audit import services as audit
from core.casework.models import Case, CaseStep
from core.casework.services import escalate
from core.database import db
from core.notifications import services as outbox

TASK = "casework.check_deadlines"


def check(actor: Actor) -> dict[str, int]:
    today = clock.local_today()
    now = clock.utcnow()
    soon = workdays.add_working_days(today, 1)
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
    digests = _digests(today, soon)
    return {"overdue_steps": len(overdue_steps), "escalated_cases": len(overdue_cases), "digests": digests}


def _digests(today, soon) -> int:  # noqa: ANN001
    """One message per officer per day: open, due soon and overdue counts in their region."""
    is_overdue = or_(Case.next_due < today, Case.limit_date < today)
    rows = db.session.execute(
        select(
            Case.township_code,
            func.count(),
            func.sum(sql_case((is_overdue, 1), else_=0)),
            func.sum(sql_case((~is_overdue & (Case.next_due <= soon), 1), else_=0)),
        )
        .where(Case.status != "closed", Case.is_info_copy.is_(False))
        .group_by(Case.township_code)
    ).all()
    if not rows:
        return 0
    open_count, overdue, due_soon = Counter(), Counter(), Counter()
    for township, n, n_overdue, n_soon in rows:  # set-based: one row per township, not per case
        open_count[township], overdue[township], due_soon[township] = n, n_overdue or 0, n_soon or 0
    sent = 0
    for officer in db.session.scalars(
        select(Officer).where(Officer.is_active.is_(True), Officer.region_code.is_not(None))
    ):
        prefix = officer.region_code
        mine = [t for t in open_count if t.startswith(prefix)]
        if not mine:
            continue
        message = outbox.enqueue(
            "console",
            f"officer:{officer.id}",
            "daily_digest",
            {
                "date": today.isoformat(),
                "open": sum(open_count[t] for t in mine),
                "due_soon": sum(due_soon[t] for t in mine),
                "overdue": sum(overdue[t] for t in mine),
            },
            dedupe_key=f"digest:{officer.id}:{today.isoformat()}",
        )
        sent += 1 if message.status == "pending" else 0
    return sent
