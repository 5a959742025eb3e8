"""Overdue first contact goes to the county, once (the beat job), and the county's list of them."""

from __future__ import annotations

from sqlalchemy import select

from core import clock
from core.actor import Actor
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.reports.feedback import record_event
from core.reports.models import Report
from core.reports.queries import scope_clause

ESCALATE_TASK = "reports.escalate_overdue"


def escalate_overdue(actor: Actor) -> int:
    """Overdue first contact goes to the county queue. Idempotent: each report escalates once."""
    today = clock.local_today()
    rows = db.session.scalars(
        select(Report).where(
            Report.status == "new",
            Report.duplicate_of_id.is_(None),
            Report.escalated_at.is_(None),
            Report.first_contact_due < today,
        )
    ).all()
    now = clock.utcnow()
    for report in rows:
        report.escalated_at = now
        if report.case_id:
            casework.escalate(db.session.get(Case, report.case_id), now)
        record_event(report, "escalated", note=f"首次联系已超过时限（{report.first_contact_due}），已上报县级民政部门")
        audit.record(actor, "report.escalate", report, region=report.township_code)
    return len(rows)


def county_overdue(actor: Actor) -> list[Report]:
    return list(
        db.session.scalars(
            select(Report)
            .where(scope_clause(actor), Report.escalated_at.is_not(None), Report.status == "new")
            .order_by(Report.first_contact_due)
        )
    )
