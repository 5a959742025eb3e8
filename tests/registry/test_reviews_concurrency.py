"""Periodic review on PostgreSQL under concurrency: two starts of the same campaign make one campaign (the other
a clear 409), two submits of the same task record one outcome (the row lock), each with its own connection."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import false, func, select

from core import clock
from core.actor import Actor
from core.database import db
from core.errors import Conflict
from core.registry import enrollments, reviews
from core.registry.models import EnrollmentEvent, ReviewCampaign, ReviewTask
from tests.conftest import (
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.registry.factory import make_enrollment

COUNTY = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")
TOWN_A = Actor(kind="officer", id=None, roles=("township_officer",), region_code="360124100")
VISIT = "入户核查：家庭情况无变化。"


@pytest.fixture(scope="module")
def _pg_database(app):
    """The suite's own database when it runs on PostgreSQL; otherwise a scratch PostgreSQL database."""
    if app.config["DATABASE_URL"].startswith("postgresql"):
        yield None
        return
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    from tests.core.test_migrations import migrate_database

    url = scratch_database_url(server, "relieflink_reviews_test")
    try:
        migrate_database(url, "upgrade")
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def pg_app(app, _pg_database):
    if _pg_database is None:
        yield app
        return
    from core.regions import services as region_services
    from wsgi import activate, create_app

    other = create_app("testing", DATABASE_URL=_pg_database)
    try:
        with other.app_context():
            region_services.load_demo_regions()
            db.session.commit()
            db.session.remove()
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()
        activate(app)


def _at_once(pg_app, calls) -> list[str]:
    """Run each call in its own thread, app context and connection, released together; commit or roll back."""
    barrier = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(i: int, call) -> None:
        with pg_app.app_context():
            barrier.wait()
            try:
                call()
                db.session.commit()
                results[i] = "ok"
            except Conflict as err:
                db.session.rollback()
                results[i] = err.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _enrollments(pg_app, seqs) -> list[int]:
    with pg_app.app_context():
        ids = [make_enrollment(seq=s, township="360124100") for s in seqs]
        db.session.remove()
        return ids


@pytest.mark.postgres
def test_two_concurrent_starts_make_one_campaign(pg_app, monkeypatch):
    ids = _enrollments(pg_app, [900, 901, 902])
    # take the friendly pre-check away: the unique constraint alone must decide the race
    monkeypatch.setattr(reviews, "_same_name", lambda county, name: false())
    deadline = clock.local_today() + timedelta(days=30)
    name = f"并发复核{ids[0]}"

    def start():
        reviews.start_campaign(COUNTY, name=name, program="dibao", township_codes=None, deadline=deadline)
        time.sleep(0.3)  # hold the transaction open: the other start waits on the unique index

    results = _at_once(pg_app, [start, start])
    assert sorted(results) == ["ok", "review_campaign_exists"]
    with pg_app.app_context():
        campaign = db.session.scalar(select(ReviewCampaign).where(ReviewCampaign.name == name))
        assert campaign.task_count == 3
        tasks = db.session.scalar(select(func.count(ReviewTask.id)).where(ReviewTask.enrollment_id.in_(ids)))
        assert tasks == 3
        db.session.remove()


@pytest.mark.postgres
def test_two_concurrent_submits_record_one_outcome(pg_app, monkeypatch):
    ids = _enrollments(pg_app, [910])
    with pg_app.app_context():
        campaign = reviews.start_campaign(
            COUNTY,
            name=f"并发记录{ids[0]}",
            program="dibao",
            township_codes=None,
            deadline=clock.local_today() + timedelta(days=30),
        )
        db.session.commit()
        task_id = db.session.scalar(
            select(ReviewTask.id).where(ReviewTask.campaign_id == campaign.id, ReviewTask.enrollment_id == ids[0])
        )
        db.session.remove()
    original = enrollments.change

    def slow_change(*args, **kwargs):
        event = original(*args, **kwargs)
        time.sleep(0.3)  # the other submit arrives while this one holds the lock
        return event

    monkeypatch.setattr(enrollments, "change", slow_change)
    results = _at_once(
        pg_app,
        [
            lambda: reviews.record_outcome(TOWN_A, task_id, "exit", reason="收入超标", visit_record=VISIT),
            lambda: reviews.record_outcome(TOWN_A, task_id, "continue", reason=None, visit_record=VISIT),
        ],
    )
    assert sorted(results) == ["ok", "review_task_done"]
    with pg_app.app_context():
        events = db.session.scalars(
            select(EnrollmentEvent).where(
                EnrollmentEvent.enrollment_id == ids[0], EnrollmentEvent.source_type == "review"
            )
        ).all()
        assert len(events) == 1
        task = db.session.get(ReviewTask, task_id)
        assert task.status == "done" and task.outcome == {"exited": "exit", "reviewed": "continue"}[events[0].kind]
        db.session.remove()


@pytest.mark.postgres
def test_two_concurrent_campaigns_of_other_names_review_each_enrollment_once(pg_app):
    ids = _enrollments(pg_app, [920, 921])
    deadline = clock.local_today() + timedelta(days=30)

    def start(name):
        def run():
            reviews.start_campaign(COUNTY, name=name, program="dibao", township_codes=None, deadline=deadline)
            time.sleep(0.3)

        return run

    results = _at_once(pg_app, [start(f"甲{ids[0]}"), start(f"乙{ids[0]}")])
    assert results == ["ok", "ok"]
    with pg_app.app_context():
        per_enrollment = dict(
            db.session.execute(
                select(ReviewTask.enrollment_id, func.count(ReviewTask.id))
                .where(ReviewTask.enrollment_id.in_(ids), ReviewTask.status == "open")
                .group_by(ReviewTask.enrollment_id)
            ).all()
        )
        assert per_enrollment == {ids[0]: 1, ids[1]: 1}
        db.session.remove()
