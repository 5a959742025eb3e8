"""Tasks that keep failing are retried with back-off when the failure is transient and kept as dead tasks
when it is not; system administrators requeue them, and settle messages whose delivery is unknown."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core.actor import SYSTEM
from core.casework import services as casework
from core.casework.models import Case
from core.database import TaskOutbox, commit, db
from core.notifications import services as outbox
from core.notifications.models import OutboxMessage
from tests.helpers import csrf_token, make_officer, portal_login


def _portal(app, username: str, role: str, region: str | None):
    secret = make_officer(app, username, role, region)
    client = app.test_client()
    assert portal_login(client, username, secret).status_code == 302
    return client


def _post(client, url: str, **data):
    token = csrf_token(client.get("/portal/operations").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _open_case(app) -> int:
    with app.app_context():
        case = casework.open_case(SYSTEM, kind="report", township_code="360124100", title="测试", due_in_working_days=3)
        commit()  # publishes casework.case_opened (in-process here)
        case_id = case.id
        db.session.remove()
        return case_id


def test_a_transient_database_error_is_retried_and_leaves_nothing_dead(app, monkeypatch):
    real = casework.mark_routed
    failures = [2]

    def flaky(case_id):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE cases …", {}, sqlite3.OperationalError("database is locked"))
        return real(case_id)

    monkeypatch.setattr(casework, "mark_routed", flaky)
    case_id = _open_case(app)
    with app.app_context():
        assert db.session.get(Case, case_id).routed_at is not None  # the third attempt routed it
        assert db.session.scalar(select(TaskOutbox).where(TaskOutbox.status == "dead")) is None
        db.session.remove()


def test_a_task_that_fails_for_good_is_dead_and_an_admin_requeues_it_once(app, monkeypatch):
    real = casework.mark_routed

    def broken(case_id):
        raise ValueError("bad data")

    monkeypatch.setattr(casework, "mark_routed", broken)
    case_id = _open_case(app)
    with app.app_context():
        dead = db.session.scalar(select(TaskOutbox).where(TaskOutbox.status == "dead"))
        assert dead.name == casework.ROUTED_TASK and dead.args == [case_id] and "bad data" in dead.last_error
        dead_id = dead.id
        db.session.remove()
    township = _portal(app, "ops_town", "township_officer", "360124100")
    assert township.get("/portal/operations").status_code == 403
    assert "运行维护" not in township.get("/portal").get_data(as_text=True)
    admin = _portal(app, "ops_admin", "system_admin", None)
    page = admin.get("/portal/operations").get_data(as_text=True)
    assert f'data-testid="task-{dead_id}"' in page and "bad data" in page
    assert township.post(f"/portal/operations/tasks/{dead_id}/requeue").status_code in (400, 403)
    monkeypatch.setattr(casework, "mark_routed", real)  # the bug is fixed
    assert _post(admin, f"/portal/operations/tasks/{dead_id}/requeue").status_code == 303
    with app.app_context():
        assert db.session.get(Case, case_id).routed_at is not None
        assert db.session.get(TaskOutbox, dead_id).status == "requeued"
        db.session.remove()
    assert _post(admin, f"/portal/operations/tasks/{dead_id}/requeue").status_code == 409  # once
    assert _post(admin, "/portal/operations/tasks/999999/requeue").status_code == 404


def test_an_unknown_message_is_settled_by_an_admin(app, monkeypatch):
    sent = []

    class Gateway:
        deduplicates = True

        def send(self, recipient, template, payload, *, request_id=None):
            sent.append(request_id)
            return "sms-1"

    with app.app_context():
        first = outbox.enqueue("wechat", "openid-1", "application_status", {"data": {}})
        second = outbox.enqueue("wechat", "openid-2", "application_status", {"data": {}})
        db.session.commit()
        db.session.info.pop("ready_tasks", None)
        for message in (first, second):
            message.status, message.last_error = "unknown", "subscribe/send did not answer: ReadTimeout"
        db.session.commit()
        ids = (first.id, second.id)
        db.session.remove()
    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: Gateway())
    admin = _portal(app, "ops_admin2", "system_admin", None)
    page = admin.get("/portal/operations").get_data(as_text=True)
    assert "状态不明（未重发）" in page and all(f'data-testid="message-{i}"' in page for i in ids)
    assert _post(admin, f"/portal/operations/messages/{ids[0]}/settle", outcome="delivered").status_code == 303
    assert _post(admin, f"/portal/operations/messages/{ids[1]}/settle", outcome="resend").status_code == 303
    assert _post(admin, f"/portal/operations/messages/{ids[1]}/settle", outcome="resend").status_code == 409
    assert _post(admin, f"/portal/operations/messages/{ids[0]}/settle", outcome="nonsense").status_code == 409
    with app.app_context():
        statuses = [db.session.get(OutboxMessage, i).status for i in ids]
        db.session.remove()
    assert statuses == ["sent", "sent"] and sent == [f"rl-outbox-{ids[1]}"]  # the delivered one is not resent
    assert "没有待核实的消息" in admin.get("/portal/operations").get_data(as_text=True)
