"""What officers read of the registry: the enrollment list (filters, export rows), the person page
(一人一档: everything about one person on one timeline) and the household page. Region scope from
core.access on every query; a record outside the scope is a 404."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select

from core import access, pii
from core.actor import Actor
from core.applications.models import STATUSES as APPLICATION_STATUSES
from core.applications.models import Application
from core.applications.programs import program_label
from core.audit import services as audit
from core.authorizations.models import STATUSES as AUTHORIZATION_STATUSES
from core.authorizations.models import AuthorizationRequest
from core.database import db
from core.households.models import HouseholdMember
from core.households.vocabulary import RELATIONS
from core.idnumber import mask
from core.regions.services import names_for
from core.registry.models import (
    ENROLLMENT_EVENTS,
    ENROLLMENT_STATUSES,
    REVIEW_OUTCOMES,
    TRANSFER_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentMember,
    Household,
    HouseholdMembership,
    Person,
    PersonFact,
    ReviewTask,
    Transfer,
)
from core.registry.persons import get_household_for_officer, get_person_for_officer, members_of
from core.reports.models import Report
from core.reports.vocabulary import CATEGORIES as REPORT_CATEGORIES
from core.reports.vocabulary import STATUSES as REPORT_STATUSES

EXPORT_LIMIT = 50_000


@dataclass
class Page:
    items: list[Any]
    total: int


def _enrollment_filters(
    actor: Actor,
    *,
    township: str | None = None,
    program: str | None = None,
    status: str | None = None,
    q: str | None = None,
) -> Select:
    stmt = select(Enrollment).where(access.under(actor, Enrollment.township_code))
    if township:
        stmt = stmt.where(Enrollment.township_code == township)
    if program:
        stmt = stmt.where(Enrollment.program == program)
    if status:
        stmt = stmt.where(Enrollment.status == status)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(_payee_match(q))
    return stmt


REFERENCE_RE = re.compile(r"BZ\d{8}[0-9A-F]{8}")
NAME_AND_LAST4_RE = re.compile(r"(\D+?)\s*(\d{3}[\dX])")


def _is_last4(value: str) -> bool:
    return len(value) == 4 and value[:3].isdigit() and (value[3].isdigit() or value[3] == "X")


def _payee_match(q: str) -> Any:
    """Reference, the payee's full ID number, the last four of it, a name prefix, or both ("王大明 1234").

    Names are matched on ``persons.name`` by a prefix LIKE: on PostgreSQL the planner sees the value and
    serves it from ``ix_persons_name_pattern`` (varchar_pattern_ops); name + last four from
    ``ix_persons_l4_name``. The enrollments are then found by ``enrollments.person_id``."""
    number = pii.normalise(q)
    if REFERENCE_RE.fullmatch(number):  # 18 characters too: before the ID number
        return Enrollment.reference == number
    if len(number) == 18:
        ids = select(Person.id).where(Person.id_number == number)
        return Enrollment.person_id.in_(ids)
    if _is_last4(number):
        ids = select(Person.id).where(pii.last4_matches(Person.id_number_l4, number))
        return Enrollment.person_id.in_(ids)
    both = NAME_AND_LAST4_RE.fullmatch(number)
    if both:
        ids = select(Person.id).where(
            pii.last4_matches(Person.id_number_l4, both.group(2)),
            Person.name.startswith(both.group(1).strip(), autoescape=True),
        )
        return Enrollment.person_id.in_(ids)
    ids = select(Person.id).where(Person.name.startswith(q, autoescape=True))
    return Enrollment.person_id.in_(ids)


def list_enrollments(actor: Actor, *, page: int = 1, page_size: int = 20, **filters: Any) -> Page:
    stmt = _enrollment_filters(actor, **filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = db.session.scalars(stmt.order_by(Enrollment.id.desc()).limit(page_size).offset((page - 1) * page_size))
    return Page(list(items), total)


def enrollment_export_rows(actor: Actor, names: dict[str, str] | None = None, **filters: Any) -> list[list[Any]]:
    """The enrollment list as rows for the Excel export (labels, not codes; the payee's number masked)."""
    enrollments = list(
        db.session.scalars(
            _enrollment_filters(actor, **filters).order_by(Enrollment.township_code, Enrollment.id).limit(EXPORT_LIMIT)
        )
    )
    people = (
        {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_({e.person_id for e in enrollments})))}
        if enrollments
        else {}
    )
    names = names or names_for(
        {e.township_code for e in enrollments} | {e.village_code for e in enrollments if e.village_code}
    )
    rows: list[list[Any]] = [
        [
            "编号",
            "救助项目",
            "状态",
            "乡镇（街道）",
            "村（社区）",
            "户主/对象",
            "身份证号",
            "保障人数",
            "月发放金额（元）",
            "起始月份",
            "最后发放月份",
            "下次复核",
        ]
    ]
    for e in enrollments:
        person = people.get(e.person_id)
        rows.append(
            [
                e.reference,
                program_label(e.program),
                ENROLLMENT_STATUSES[e.status],
                names.get(e.township_code, e.township_code),
                names.get(e.village_code, e.village_code or ""),
                e.payee_name,
                mask(person.id_number) if person else "",
                e.member_count,
                e.monthly_amount,
                e.start_month,
                e.end_month or "",
                e.next_review_date,
            ]
        )
    audit.record(actor, "enrollment.export", None, region=actor.region_code, rows=len(rows) - 1)
    return rows


def enrollment_view(actor: Actor, enrollment: Enrollment) -> dict[str, Any]:
    """The enrollment page: members (masked), events, reviews, transfers."""
    members = db.session.execute(
        select(EnrollmentMember, Person)
        .join(Person, Person.id == EnrollmentMember.person_id)
        .where(EnrollmentMember.enrollment_id == enrollment.id)
        .order_by(EnrollmentMember.id)
    ).all()
    events = db.session.scalars(
        select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id == enrollment.id)
        .order_by(EnrollmentEvent.created_at.desc(), EnrollmentEvent.id.desc())
    ).all()
    reviews = db.session.scalars(
        select(ReviewTask).where(ReviewTask.enrollment_id == enrollment.id).order_by(ReviewTask.id.desc())
    ).all()
    transfers = db.session.scalars(
        select(Transfer)
        .where(or_(Transfer.enrollment_id == enrollment.id, Transfer.new_enrollment_id == enrollment.id))
        .order_by(Transfer.id.desc())
    ).all()
    return {
        "enrollment": enrollment,
        "members": [
            {"person": p, "relation": RELATIONS.get(m.relation or "", m.relation or ""), "id_masked": mask(p.id_number)}
            for m, p in members
        ],
        "events": events,
        "reviews": reviews,
        "transfers": transfers,
    }


def _timeline_entry(at: datetime | None, kind: str, title: str, text: str, link: tuple[str, dict] | None) -> dict:
    return {"at": at, "kind": kind, "title": title, "text": text, "link": link}


def person_view(actor: Actor, person_id: int) -> dict[str, Any]:
    """一人一档: the person, their households, and one timeline of applications, reports, authorizations,
    enrollments (and their events), reviews and transfers — newest first."""
    person = get_person_for_officer(actor, person_id)
    timeline: list[dict] = []
    app_ids = select(HouseholdMember.application_id).where(HouseholdMember.person_id == person.id)
    applications = db.session.scalars(
        select(Application)
        .where(or_(Application.id.in_(app_ids), Application.applicant_person_id == person.id))
        .where(access.under(actor, Application.residence_township_code))
        .order_by(Application.id.desc())
        .limit(200)
    ).all()
    for app in applications:
        timeline.append(
            _timeline_entry(
                app.submitted_at or app.created_at,
                "application",
                f"{program_label(app.program)}申请 {app.reference}",
                APPLICATION_STATUSES.get(app.status, app.status),
                ("portal_applications.detail", {"application_id": app.id}),
            )
        )
    for report in db.session.scalars(
        select(Report)
        .where(Report.person_id == person.id, access.under(actor, Report.township_code))
        .order_by(Report.id.desc())
        .limit(200)
    ):
        timeline.append(
            _timeline_entry(
                report.created_at,
                "report",
                f"主动发现报告 {report.reference}",
                f"{REPORT_CATEGORIES.get(report.category, report.category)}，"
                f"{REPORT_STATUSES.get(report.status, report.status)}",
                ("portal_reports.detail", {"report_id": report.id}),
            )
        )
    for request in db.session.scalars(
        select(AuthorizationRequest)
        .where(AuthorizationRequest.person_id == person.id)
        .order_by(AuthorizationRequest.id.desc())
        .limit(200)
    ):
        timeline.append(
            _timeline_entry(
                request.authorized_at or request.created_at,
                "authorization",
                "家庭经济状况核对授权",
                AUTHORIZATION_STATUSES.get(request.status, request.status),
                ("portal_applications.detail", {"application_id": request.application_id}),
            )
        )
    covered = select(EnrollmentMember.enrollment_id).where(EnrollmentMember.person_id == person.id)
    enrollments = db.session.scalars(
        select(Enrollment)
        .where(or_(Enrollment.person_id == person.id, Enrollment.id.in_(covered)))
        .where(access.under(actor, Enrollment.township_code))
        .order_by(Enrollment.id.desc())
    ).all()
    by_id = {e.id: e for e in enrollments}
    if by_id:
        for event in db.session.scalars(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id.in_(by_id))):
            e = by_id[event.enrollment_id]
            timeline.append(
                _timeline_entry(
                    event.created_at,
                    "enrollment",
                    f"{program_label(e.program)} {e.reference}：{ENROLLMENT_EVENTS[event.kind]}",
                    event.reason or "",
                    ("portal_registry.enrollment", {"enrollment_id": e.id}),
                )
            )
        for task in db.session.scalars(
            select(ReviewTask).where(ReviewTask.enrollment_id.in_(by_id), ReviewTask.status == "done")
        ):
            timeline.append(
                _timeline_entry(
                    task.completed_at,
                    "review",
                    "复核",
                    f"{REVIEW_OUTCOMES.get(task.outcome or '', '')} {task.reason or ''}".strip(),
                    ("portal_registry.enrollment", {"enrollment_id": task.enrollment_id}),
                )
            )
        for transfer in db.session.scalars(select(Transfer).where(Transfer.enrollment_id.in_(by_id))):
            timeline.append(
                _timeline_entry(
                    transfer.updated_at,
                    "transfer",
                    f"资格转移 {transfer.reference}",
                    TRANSFER_STATUSES[transfer.status],
                    ("portal_registry.enrollment", {"enrollment_id": transfer.enrollment_id}),
                )
            )
    timeline.sort(key=lambda entry: entry["at"] or datetime.min, reverse=True)
    households = db.session.execute(
        select(HouseholdMembership, Household)
        .join(Household, Household.id == HouseholdMembership.household_id)
        .where(HouseholdMembership.person_id == person.id)
        .order_by(HouseholdMembership.id.desc())
    ).all()
    facts = db.session.scalars(
        select(PersonFact).where(PersonFact.person_id == person.id).order_by(PersonFact.recorded_at.desc()).limit(100)
    ).all()
    return {
        "person": person,
        "id_masked": mask(person.id_number),
        "timeline": timeline,
        "enrollments": enrollments,
        "households": [
            {"membership": m, "household": h, "relation": RELATIONS.get(m.relation or "", m.relation or "")}
            for m, h in households
        ],
        "facts": facts,
    }


def household_view(actor: Actor, household_id: int) -> dict[str, Any]:
    household = get_household_for_officer(actor, household_id)
    members = [
        {
            "membership": m,
            "person": p,
            "relation": RELATIONS.get(m.relation or "", m.relation or ""),
            "id_masked": mask(p.id_number),
        }
        for m, p in members_of(household.id, current=False)
    ]
    enrollments = db.session.scalars(
        select(Enrollment).where(Enrollment.household_id == household.id).order_by(Enrollment.id.desc())
    ).all()
    return {"household": household, "members": members, "enrollments": enrollments}


def reveal_id_number(actor: Actor, person_id: int, purpose: str) -> str:
    """The full ID number of a person in scope, audited with the purpose."""
    person = get_person_for_officer(actor, person_id)
    audit.record(actor, "person.reveal_id_number", person, region=person.residence_township_code, purpose=purpose)
    return person.id_number
