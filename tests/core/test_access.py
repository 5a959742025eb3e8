"""Region scope (core.access): every scoped list, look-up, export, dashboard figure and bulk action sees the
actor's region, and an actor with no region sees nothing — never everything."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from core import access, clock
from core.accounts import services as accounts
from core.actor import SYSTEM, Actor
from core.casework import services as casework
from core.database import commit, db
from core.desk import dashboard, queues
from core.errors import DomainError
from core.reports import services as reports
from tests.helpers import citizen_headers, make_officer

TOWNSHIP = "360124100"


@pytest.fixture
def world(app, client):
    """One case, one report and one reporter grant in 民和镇, and an officer there."""
    headers = citizen_headers(client, "13900094001")
    assert (
        client.post(
            "/api/v1/demo/cases", headers=headers, json={"township_code": TOWNSHIP, "title": "演示"}
        ).status_code
        == 201
    )
    report = client.post(
        "/api/v1/reports", headers=headers, json={"category": "elderly_alone", "township_code": TOWNSHIP}
    )
    assert report.status_code == 201
    make_officer(app, "scope_officer", "township_officer", TOWNSHIP)
    with app.app_context():
        user = accounts.find_user_by_phone("13900094001")
        accounts.grant_reporter_role(SYSTEM, user, "volunteer", TOWNSHIP)
        commit()
        from core.casework.models import Case

        case_id = db.session.scalar(db.select(Case.id).where(Case.kind == "demo"))
        officer_id = accounts.find_officer_by_username("scope_officer").id
        db.session.remove()
    return {"case_id": case_id, "report_id": report.get_json()["id"], "officer_id": officer_id}


def _found(call: Callable[[], object]) -> bool:
    try:
        call()
    except DomainError:
        return False
    return True


def scoped_reads(world) -> dict[str, Callable[[Actor], int]]:
    """Every scoped query of the officer side, as 'how much does this actor see'."""
    return {
        "queue counts": lambda a: queues.counts(a)["all"],
        "queue list": lambda a: queues.queue(a).total,
        "queue export rows": lambda a: len(queues.export_rows(queues.queue(a, page_size=5000), {}, {})) - 1,
        "officers to assign to": lambda a: len(queues.officers_in_scope(a)),
        "case look-up": lambda a: int(_found(lambda: casework.get_case_for_officer(a, world["case_id"]))),
        "dashboard open by stage": lambda a: sum(r["count"] for r in dashboard.open_by_stage(a)),
        "dashboard reports": lambda a: sum(r["reports"] for r in dashboard.reports_first_contact(a)),
        "report queue": lambda a: reports.officer_queue(a, page=1, page_size=20).total,
        "report look-up": lambda a: int(_found(lambda: reports.get_for_officer(a, world["report_id"]))),
        "reporter grants": lambda a: len(accounts.reporter_grants_in_scope(a)),
        "region check": lambda a: int(accounts.officer_can_see_region(a, TOWNSHIP)),
    }


def test_every_scoped_query_sees_the_region_and_nothing_without_one(app, world):
    inside = Actor("officer", world["officer_id"], ("county_officer",), "360124")
    elsewhere = Actor("officer", world["officer_id"], ("county_officer",), "360121")
    no_region = Actor("officer", world["officer_id"], ("township_officer",), None)
    blank_region = Actor("officer", world["officer_id"], ("township_officer",), "")
    clock.set_offset(timedelta(days=30))  # the report is due: the dashboard counts only reports already due
    with app.app_context():
        for name, seen in scoped_reads(world).items():
            assert seen(inside) > 0, f"{name}: the region's own officer sees nothing"
            for actor in (elsewhere, no_region, blank_region):
                assert seen(actor) == 0, f"{name}: {actor.region_code!r} sees {seen(actor)}"
        db.session.remove()


def test_bulk_assignment_is_refused_without_a_region(app, world):
    no_region = Actor("officer", world["officer_id"], ("township_officer",), None)
    with app.app_context():
        with pytest.raises(DomainError):
            queues.assign(no_region, [world["case_id"]], world["officer_id"])
        db.session.rollback()
        db.session.remove()


def test_access_primitives():
    admin = Actor("officer", 1, ("system_admin",), None)
    county = Actor("officer", 2, ("county_officer",), "360124")
    nobody = Actor("officer", 3, ("township_officer",), "  ")
    assert access.can_see(admin, "110101001") and access.can_see(county, "360124100")
    assert not access.can_see(county, "360121100") and not access.can_see(nobody, "360124100")
    assert not access.can_see(county, None)
