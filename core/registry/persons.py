"""Persons and households (一人一档): one person per ID number, every fact with its source and time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import access, clock, idnumber, pii
from core.actor import Actor
from core.applications.models import Application
from core.authorizations.models import AuthorizationRequest
from core.database import db, enqueue_after_commit
from core.errors import NotFound
from core.registry.models import Household, HouseholdMembership, Person, PersonFact

# The registry's facts about a person that are recorded with their source (field → Person attribute).
FACT_FIELDS = ("name", "phone", "residence_township_code", "residence_village_code", "hukou_township_code")


def find_person(id_number: str) -> Person | None:
    return db.session.scalar(select(Person).where(Person.id_number == id_number))


def _new_person(id_number: str, name: str) -> Person:
    number = pii.normalise(id_number)
    born: date | None
    try:
        born = idnumber.birth_date(number)
    except ValueError:
        born = None
    gender = ("M" if int(number[16]) % 2 else "F") if len(number) == 18 and number[16].isdigit() else None
    return Person(id_number=number, name=name, birth_date=born, gender=gender)


def person_for(
    id_number: str,
    name: str,
    *,
    source_type: str,
    source_id: str | int | None,
    facts: dict[str, str | None] | None = None,
) -> Person:
    """The one person with this ID number (created when first seen); ``facts`` are recorded with the source.

    Two requests seeing a new person at once: the unique blind index lets one insert win; the other
    re-reads it inside a savepoint, so neither fails.
    """
    person = find_person(id_number)
    if person is None:
        candidate = _new_person(id_number, name)
        try:
            with db.session.begin_nested():
                db.session.add(candidate)
            person = candidate
        except IntegrityError:
            person = find_person(id_number)
            if person is None:  # pragma: no cover - the unique index says it exists
                raise
    record_facts(person, {"name": name, **(facts or {})}, source_type=source_type, source_id=source_id)
    return person


def record_facts(
    person: Person, facts: dict[str, str | None], *, source_type: str, source_id: str | int | None
) -> None:
    """Keep each fact with where it came from; the newest source's value is the person's current one."""
    sid = None if source_id is None else str(source_id)
    known = {
        f.field
        for f in db.session.scalars(
            select(PersonFact).where(
                PersonFact.person_id == person.id,
                PersonFact.source_type == source_type,
                PersonFact.source_id == sid if sid is not None else PersonFact.source_id.is_(None),
            )
        )
    }
    for field, value in facts.items():
        if field not in FACT_FIELDS or value in (None, ""):
            continue
        if getattr(person, field) != value:
            setattr(person, field, value)
        if field == "residence_township_code":
            person.county_code = value[:6]
        if field not in known:
            db.session.add(
                PersonFact(
                    person_id=person.id,
                    field=field,
                    value=value,
                    source_type=source_type,
                    source_id=sid,
                    recorded_at=clock.utcnow(),
                )
            )
    db.session.flush()


LINK_TASK = "registry.link_application"


def schedule_link(app: Application) -> None:
    """On submit: link the members to persons after the commit, in a worker (an outbox task), so the citizen's
    submit does not wait on the registry's person look-ups and fact rows. An approval that comes first links
    them itself (``household_from_application``)."""
    enqueue_after_commit(LINK_TASK, app.id)


def link_application(application_id: int) -> bool:
    """The task's work: link a submitted application's members (idempotent: persons are matched by ID
    number, facts already recorded are not written again). False when the application is gone or a draft.
    Members linked already (an earlier run, an approval) are left alone: a late run (a retry, a requeued
    dead task) must not set the persons' current values back to the application's over newer sources."""
    app = db.session.get(Application, application_id)
    if app is None or app.status == "draft":
        return False
    if any(m.person_id is None for m in app.members if m.id_number and m.name):
        register_application(app)
    return True


def register_application(app: Application) -> None:
    """A submitted application's members become (or are matched to) persons; the rows link to them."""
    where = {
        "residence_township_code": app.residence_township_code,
        "residence_village_code": app.residence_village_code,
        "hukou_township_code": app.hukou_township_code,
    }
    for member in app.members:
        if not member.id_number or not member.name:
            continue
        facts = dict(where)
        if member.relation == "self":
            facts["phone"] = app.applicant_phone
        person = person_for(member.id_number, member.name, source_type="application", source_id=app.id, facts=facts)
        member.person_id = person.id
        if app.applicant_id_number and pii.normalise(member.id_number) == pii.normalise(app.applicant_id_number):
            app.applicant_person_id = person.id
        for request in db.session.scalars(
            select(AuthorizationRequest).where(
                AuthorizationRequest.application_id == app.id,
                AuthorizationRequest.member_id_number == member.id_number,
            )
        ):
            request.person_id = person.id
    db.session.flush()


def register_report(report: object) -> None:
    """A report that names a person by ID number links to that person (its location is a fact)."""
    number = getattr(report, "person_id_number", None)
    name = getattr(report, "person_name", None)
    if not number or not name:
        return
    person = person_for(
        number,
        name,
        source_type="report",
        source_id=getattr(report, "id", None),
        facts={"residence_township_code": getattr(report, "township_code", None)},
    )
    report.person_id = person.id  # type: ignore[attr-defined]


def household_from_application(app: Application) -> Household:
    """The registry household of an approved application (once per application)."""
    existing = db.session.scalar(
        select(Household).where(Household.source_type == "application", Household.source_id == str(app.id))
    )
    if existing is not None:
        return existing
    if app.applicant_person_id is None:
        register_application(app)
    household = Household(
        head_person_id=app.applicant_person_id,
        residence_township_code=app.residence_township_code,
        residence_village_code=app.residence_village_code,
        hukou_township_code=app.hukou_township_code,
        county_code=(app.residence_township_code or "")[:6],
        address=app.residence_address,
        source_type="application",
        source_id=str(app.id),
    )
    db.session.add(household)
    db.session.flush()
    today = clock.local_today()
    for member in app.members:
        if member.person_id is not None:
            join_household(household, member.person_id, member.relation, today)
    return household


def join_household(household: Household, person_id: int, relation: str | None, since: date) -> HouseholdMembership:
    """The person is in this household from ``since``; any other current membership ends that day."""
    current = db.session.scalars(
        select(HouseholdMembership).where(
            HouseholdMembership.person_id == person_id, HouseholdMembership.ended_on.is_(None)
        )
    ).all()
    for membership in current:
        if membership.household_id == household.id:
            membership.relation = relation or membership.relation
            return membership
        membership.ended_on = since
    membership = HouseholdMembership(
        household_id=household.id, person_id=person_id, relation=relation, started_on=since
    )
    db.session.add(membership)
    db.session.flush()
    return membership


def members_of(household_id: int, *, current: bool = True) -> list[tuple[HouseholdMembership, Person]]:
    stmt = (
        select(HouseholdMembership, Person)
        .join(Person, Person.id == HouseholdMembership.person_id)
        .where(HouseholdMembership.household_id == household_id)
        .order_by(HouseholdMembership.id)
    )
    if current:
        stmt = stmt.where(HouseholdMembership.ended_on.is_(None))
    return [(m, p) for m, p in db.session.execute(stmt)]


def persons_by_ids(ids: Iterable[int]) -> dict[int, Person]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(select(Person).where(Person.id.in_(ids)))}


def get_person_for_officer(actor: Actor, person_id: int) -> Person:
    """A person inside the officer's region (by residence), else 404."""
    person = db.session.get(Person, person_id)
    if person is None or not access.can_see(actor, person.residence_township_code):
        raise NotFound("未找到该人员")
    return person


def get_household_for_officer(actor: Actor, household_id: int) -> Household:
    household = db.session.get(Household, household_id)
    if household is None or not access.can_see(actor, household.residence_township_code):
        raise NotFound("未找到该家庭")
    return household
