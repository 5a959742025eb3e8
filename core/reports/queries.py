"""Reading reports: the reporter's own, the officer's queue and look-ups (region scope from core.access)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core import access, clock
from core.actor import Actor
from core.database import db
from core.errors import NotFound
from core.reports.models import Report, ReportEvent


@dataclass(frozen=True)
class Page:
    items: list[Report]
    total: int


def get_for_reporter(actor: Actor, report_id: int) -> Report:
    report = db.session.scalar(select(Report).where(Report.id == report_id, Report.reporter_user_id == actor.id))
    if report is None:
        raise NotFound("未找到该报告", code="report_not_found")
    return report


# What the reporter's list shows of each report (ReportOut), read as rows, not ORM objects (the hot list).
SUMMARY_COLUMNS = (
    Report.id,
    Report.reference,
    Report.category,
    Report.urgency,
    Report.reporter_role,
    Report.township_code,
    Report.village_code,
    Report.address,
    Report.latitude,
    Report.longitude,
    Report.coordinate_system,
    Report.person_name,
    Report.person_id_number_enc,
    Report.age_group,
    Report.description,
    Report.status,
    Report.outcome,
    Report.duplicate_of_id,
    Report.created_at,
)


def list_for_reporter(actor: Actor, *, page: int, page_size: int) -> Page:
    """One page of the reporter's reports, newest first, as rows with the summary's columns (SUMMARY_COLUMNS);
    no count query when the page is not full (the total is then the rows skipped plus the rows read)."""
    t = Report.__table__.c  # table columns (SQLAlchemy Core): no ORM compile and loading steps
    where = t.reporter_user_id == actor.id
    offset = (page - 1) * page_size
    rows = db.session.execute(
        select(*(t[c.key] for c in SUMMARY_COLUMNS)).where(where).order_by(t.id.desc()).offset(offset).limit(page_size)
    ).all()
    if 0 < len(rows) < page_size or (offset == 0 and not rows):
        total = offset + len(rows)
    else:
        total = db.session.scalar(select(func.count(t.id)).where(where)) or 0
    return Page(list(rows), total)


def reporter_events(report: Report) -> list[ReportEvent]:
    """Only the events written for the reporter."""
    return list(
        db.session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id, ReportEvent.reporter_text.is_not(None))
            .order_by(ReportEvent.id)
        )
    )


def scope_clause(actor: Actor) -> Any:
    return access.under(actor, Report.township_code)


def get_for_officer(actor: Actor, report_id: int) -> Report:
    report = db.session.scalar(select(Report).where(Report.id == report_id, scope_clause(actor)))
    if report is None:
        raise NotFound("未找到该报告", code="report_not_found")
    return report


def officer_queue(
    actor: Actor,
    *,
    page: int,
    page_size: int,
    category: str | None = None,
    urgency: str | None = None,
    reporter_role: str | None = None,
    overdue: bool = False,
    include_closed: bool = False,
    township_code: str | None = None,
) -> Page:
    stmt = select(Report).where(scope_clause(actor))
    if not include_closed:
        stmt = stmt.where(Report.status != "closed")
    if category:
        stmt = stmt.where(Report.category == category)
    if urgency:
        stmt = stmt.where(Report.urgency == urgency)
    if reporter_role:
        stmt = stmt.where(Report.reporter_role == reporter_role)
    if township_code:
        stmt = stmt.where(Report.township_code == township_code)
    if overdue:
        stmt = stmt.where(Report.status == "new", Report.first_contact_due < clock.local_today())
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(
            Report.status == "closed",
            Report.first_contact_due.is_(None),
            Report.first_contact_due,
            Report.priority.desc(),
            Report.id.desc(),
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(list(rows), total)


def is_overdue(report: Report) -> bool:
    return (
        report.status == "new"
        and report.first_contact_due is not None
        and report.first_contact_due < clock.local_today()
    )


def duplicates_of(report: Report) -> list[Report]:
    return list(db.session.scalars(select(Report).where(Report.duplicate_of_id == report.id).order_by(Report.id)))


def officer_events(report: Report) -> list[ReportEvent]:
    return list(
        db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id))
    )
