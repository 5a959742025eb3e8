"""Tasks are rows written with the change: a broker that is down never fails a committed request, the
relay publishes what is left once, and an outage answers 503 with Retry-After instead of 500."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from core import clock
from core.database import TaskOutbox, commit, db, enqueue_after_commit, relay_pending_tasks, set_task_dispatcher
from core.notifications.models import OutboxMessage
from tests.conftest import postgres_reachable, postgres_server_url, scratch_database_url, unavailable
from tests.helpers import citizen_headers


class Broker:
    """A dispatcher that is down until ``up`` is set; records what it took."""

    def __init__(self) -> None:
        self.up = False
        self.taken: list[tuple[str, list, str]] = []

    def __call__(self, name: str, args: list, queue: str) -> None:
        if not self.up:
            raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")
        self.taken.append((name, args, queue))


@pytest.fixture
def broker(app):
    fake = Broker()
    set_task_dispatcher(fake)
    yield fake
    set_task_dispatcher(app.extensions["task_dispatcher"])


def test_broker_down_the_request_still_succeeds_and_the_relay_sends_once(client, app, broker):
    resp = client.post("/api/v1/auth/sms/send", json={"phone": "13900081001"})
    assert resp.status_code == 200, resp.get_json()  # committed: the client is not told to retry
    with app.app_context():
        rows = db.session.scalars(select(TaskOutbox)).all()
        assert [(r.name, r.status) for r in rows] == [("notify.deliver", "pending")]
        assert rows[0].attempts == 1 and "Connection refused" in rows[0].last_error
        message = db.session.scalar(select(OutboxMessage))
        assert rows[0].args == [message.id] and message.status == "pending"
        assert relay_pending_tasks(older_than_seconds=30) == 0  # too young: the request may still publish
        broker.up = True
        clock.set_offset(timedelta(seconds=31))
        assert relay_pending_tasks(older_than_seconds=30) == 1
        assert broker.taken == [("notify.deliver", [message.id], "notify")]
        assert relay_pending_tasks(older_than_seconds=30) == 0  # published rows are not sent again
        db.session.expire_all()
        assert db.session.scalar(select(TaskOutbox.status)) == "published"
        db.session.remove()
    assert len(broker.taken) == 1


def test_a_task_of_a_rolled_back_savepoint_is_never_published(app, broker):
    broker.up = True
    with app.app_context():
        savepoint = db.session.begin_nested()
        enqueue_after_commit("casework.case_opened", 41)
        savepoint.rollback()
        enqueue_after_commit("casework.case_opened", 42)
        commit()
        assert broker.taken == [("casework.case_opened", [42], "default")]
        assert db.session.scalar(select(func.count()).select_from(TaskOutbox)) == 1
        db.session.remove()


def test_published_rows_are_forgotten_after_a_week(app, broker):
    broker.up = True
    with app.app_context():
        enqueue_after_commit("casework.case_opened", 7)
        commit()
        clock.set_offset(timedelta(days=8))
        relay_pending_tasks()
        assert db.session.scalar(select(func.count()).select_from(TaskOutbox)) == 0
        db.session.remove()


def test_a_locked_database_answers_503_with_retry_after_not_500(client, app, monkeypatch):
    from core.applications import settings

    def locked(*args, **kwargs):
        raise OperationalError("SELECT …", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(settings, "programs_for_region", locked)
    headers = citizen_headers(client, "13900081003")
    resp = client.get("/api/v1/programs?region=360124100", headers=headers)
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "5"
    assert resp.get_json()["status"] == "service_unavailable"
    assert "稍后" in resp.get_json()["message"]


def test_a_bug_is_still_a_500_not_an_outage(client, monkeypatch):
    headers = citizen_headers(client, "13900081004")

    def broken(*args, **kwargs):
        raise OperationalError("SELECT …", {}, sqlite3.OperationalError("no such column: nonsense"))

    from core.applications import settings

    monkeypatch.setattr(settings, "programs_for_region", broken)
    resp = client.get("/api/v1/programs?region=360124100", headers=headers)
    assert resp.status_code == 500 and "Retry-After" not in resp.headers


def test_a_held_table_lock_fails_fast_with_503_on_postgresql():
    """A real lock on PostgreSQL: the request gives up after lock_timeout (503), it does not hang."""
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable("PostgreSQL not reachable")
    from flask_migrate import upgrade
    from sqlalchemy import create_engine

    from wsgi import create_app

    url = scratch_database_url(server, "rl_locks")
    app = create_app("testing", DATABASE_URL=url, DB_LOCK_TIMEOUT_MS=300, DB_STATEMENT_TIMEOUT_MS=2000)
    with app.app_context():
        upgrade()
        db.session.remove()
    client = app.test_client()
    headers = citizen_headers(client, "13900081002")
    holder = create_engine(url)
    with holder.connect() as conn:
        conn.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        resp = client.get("/api/v1/me", headers=headers)
        conn.rollback()
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "5" and resp.get_json()["status"] == "service_unavailable"
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # the lock is gone: served again
    holder.dispose()
    with app.app_context():
        db.engine.dispose()


@pytest.mark.worker
def test_a_real_broker_outage_costs_no_request_and_the_relay_catches_up(app, tmp_path):
    """Kombu against a Redis port with nothing behind it, then a private Redis started there."""
    import shutil
    import socket
    import subprocess
    import time

    import redis

    from wsgi import create_app

    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed")
    with socket.socket() as probe:  # a free loopback port for the private Redis
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = create_app(
        "testing",
        DATABASE_URL=app.config["DATABASE_URL"],
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        REDIS_SOCKET_TIMEOUT_SECONDS=1.0,
    )
    proc = None
    try:
        resp = down.test_client().post("/api/v1/auth/sms/send", json={"phone": "13900081005"})
        assert resp.status_code == 200, resp.get_json()
        with down.app_context():
            row = db.session.scalar(select(TaskOutbox))
            assert row.status == "pending" and row.name == "notify.deliver"
            db.session.remove()
        proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            cwd=tmp_path,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        clock.set_offset(timedelta(seconds=31))
        with down.app_context():
            assert relay_pending_tasks(older_than_seconds=30) == 1
            db.session.remove()
        assert client.llen("notify") == 1  # the deliver task waits in its queue for a worker
        with down.app_context():
            assert relay_pending_tasks(older_than_seconds=30) == 0
            db.session.remove()
        assert client.llen("notify") == 1
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        set_task_dispatcher(app.extensions["task_dispatcher"])
        app.extensions["celery"].set_default()


def test_a_task_queued_once_per_transaction_is_queued_again_in_the_next(app, broker):
    """``once=True`` (the notify task of an application's events): one row per transaction however many
    calls, and a later transaction of the same session (a worker, a CLI committing in batches) queues its own."""
    broker.up = True
    with app.app_context():
        enqueue_after_commit("test.once", 7, once=True)
        enqueue_after_commit("test.once", 7, once=True)
        enqueue_after_commit("test.once", 8, once=True)
        commit()
        enqueue_after_commit("test.once", 7, once=True)
        commit()
        rows = db.session.scalars(select(TaskOutbox).order_by(TaskOutbox.id)).all()
        assert [(r.name, r.args) for r in rows] == [("test.once", [7]), ("test.once", [8]), ("test.once", [7])]
        enqueue_after_commit("test.once", 9, once=True)
        db.session.rollback()
        enqueue_after_commit("test.once", 9, once=True)  # the rolled-back row does not count
        commit()
        assert [r.args for r in db.session.scalars(select(TaskOutbox))].count([9]) == 1
        db.session.remove()
    assert [name for name, _, _ in broker.taken] == ["test.once"] * 4


def test_a_task_queued_once_in_a_rolled_back_savepoint_is_queued_again_after_it(app, broker):
    """A savepoint that rolls back drops the row it queued; a later ``once=True`` call in the same
    transaction (another timeline event of the application) must queue it, or that event is never notified."""
    broker.up = True
    with app.app_context():
        try:
            with db.session.begin_nested():
                enqueue_after_commit("test.once", 11, once=True)
                db.session.flush()
                raise RuntimeError("the step failed")
        except RuntimeError:
            pass
        try:
            with db.session.begin_nested():
                enqueue_after_commit("test.once", 12, once=True)  # not flushed before the rollback
                raise RuntimeError("the step failed")
        except RuntimeError:
            pass
        enqueue_after_commit("test.once", 11, once=True)
        enqueue_after_commit("test.once", 12, once=True)
        commit()
        assert sorted(r.args for r in db.session.scalars(select(TaskOutbox))) == [[11], [12]]
        db.session.remove()
    assert sorted(args for _, args, _ in broker.taken) == [[11], [12]]
