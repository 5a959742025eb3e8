"""The queue's tab counts come from one statement (issue 15); each equals the count of the queue page the tab
opens (``queues.count``: the page's own statement), for every bucket and filter, information copies included
only where the page includes them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core import clock
from core.accounts import services as accounts
from core.actor import SYSTEM, Actor
from core.casework import services as casework
from core.database import db
from core.desk import dashboard, queues
from tests.helpers import PASSWORD

MINHE, LIDU = "360124100", "360124101"


def _open_cases() -> int:
    """24 cases over two townships (some overdue, closed, information copies, assigned); the assignee's id."""
    officer, _ = accounts.create_officer(
        SYSTEM, username="counts_town", password=PASSWORD, role="township_officer", region_code=MINHE
    )
    today = clock.local_today()
    for n in range(24):
        case = casework.open_case(
            SYSTEM,
            kind=("application", "report", "review")[n % 3],
            township_code=(MINHE, LIDU)[n % 2],
            title=f"案件{n}",
            due_in_working_days=n % 6,
            program="dibao" if n % 3 == 0 else None,
            is_info_copy=n % 11 == 0,
        )
        if n % 5 == 0:
            case.next_due = today - timedelta(days=1 + n % 3)
        if n % 7 == 0:
            case.limit_date = today - timedelta(days=1)
        if n % 4 == 0:
            case.assignee_officer_id = officer.id
        if n % 9 == 0:
            case.status = "closed"
        if n % 6 == 0:
            case.created_at = clock.utcnow() - timedelta(days=3)
        case.stage = ("accept", "investigating", "review", "decision", "report", None)[n % 6] or case.stage
    return officer.id


def test_one_statement_counts_equal_each_queue_pages_count(app):
    with app.app_context():
        officer_id = _open_cases()
        db.session.flush()
        county = Actor("officer", 1, ("county_officer",), MINHE[:6])
        town = Actor("officer", officer_id, ("township_officer",), MINHE)
        for actor in (county, town):
            for filters in (
                {},
                {"township_code": LIDU},
                {"program": "dibao"},
                {"assignee": officer_id},
                {"include_info": True},
                {"include_info": False},
                {"q": "案件1"},
            ):
                expected = {b: queues.count(actor, bucket=b, **filters) for b in queues.BUCKETS}
                assert queues.counts(actor, **filters) == expected, (actor.region_code, filters)
        every = queues.counts(county)
        assert every["all"] > every["overdue"] > 0 and every["due_soon"] > 0 and every["accept"] > 0
        # the township desk's figures are the same counts
        desk = dashboard.township_desk(town)
        for bucket in ("overdue", "due_soon", "new_today"):
            assert desk[bucket]["all"] == queues.count(town, bucket=bucket)
            assert desk[bucket]["mine"] == queues.count(town, bucket=bucket, assignee=town.id)
        assert desk["overdue"]["mine"] > 0
        # a reused statement (same scope and filters, another officer) still counts what is there now
        before = queues.counts(town)
        late = casework.open_case(
            SYSTEM, kind="application", township_code=MINHE, title="新案件", due_in_working_days=1
        )
        late.next_due = clock.local_today() - timedelta(days=2)
        db.session.flush()
        other = Actor("officer", officer_id + 1, ("township_officer",), MINHE)
        after = queues.counts(other)
        assert after["overdue"] == before["overdue"] + 1 == queues.count(other, bucket="overdue")
        assert after["all"] == before["all"] + 1
        db.session.rollback()
        db.session.remove()


def test_the_queue_tabs_cost_one_statement(app):
    from sqlalchemy import event

    with app.app_context():
        _open_cases()
        db.session.flush()
        seen: list[str] = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            queues.counts(Actor("officer", 1, ("county_officer",), MINHE[:6]))
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert len(seen) == 1, seen
        assert db.session.scalar(select(func.count()).select_from(casework.Case)) == 24
        db.session.rollback()
        db.session.remove()
