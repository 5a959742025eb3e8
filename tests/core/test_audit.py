"""The audit log records who did what, and cannot be changed afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DatabaseError

from core.audit.models import AuditEntry
from core.database import db
from tests.conftest import (
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.helpers import citizen_headers, make_officer, portal_login


def test_logins_and_actions_are_audited(client, app):
    headers = citizen_headers(client, "13900003000")
    client.post("/api/v1/me/real-name", headers=headers, json={"name": "赵六", "id_number": "11010519491231002X"})
    secret = make_officer(app, "auditme", "township_officer", "360124100")
    with app.test_client() as officer:
        officer.environ_base["REMOTE_ADDR"] = "127.0.0.9"
        portal_login(officer, "auditme", secret)
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions[:3] == ["user.register", "auth.login", "identity.claim"]
        assert "officer.create" in actions and "officer.login" in actions
        bind = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "identity.claim"))
        assert bind.detail["id_number"] == "1101**********002X"
        assert "11010519491231002X" not in str(bind.detail)  # the ID number itself is not copied
        login = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "officer.login"))
        assert login.ip == "127.0.0.9" and login.region_code == "360124100" and login.actor_role == "township_officer"


def test_failed_officer_logins_are_audited_and_lock(client, app):
    make_officer(app, "locked", "township_officer", "360124100")
    for _ in range(app.config["PORTAL_MAX_FAILED_LOGINS"]):
        page = client.get("/portal/login").get_data(as_text=True)
        from tests.helpers import csrf_token

        resp = client.post(
            "/portal/login", data={"username": "locked", "password": "wrong-password-1", "csrf_token": csrf_token(page)}
        )
        assert resp.status_code == 401
    with app.app_context():
        failures = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "officer.login_failed")).all()
        assert len(failures) == app.config["PORTAL_MAX_FAILED_LOGINS"]
        assert failures[-1].detail["locked"] is True
    # the right password no longer helps while locked
    from tests.helpers import PASSWORD, csrf_token

    page = client.get("/portal/login").get_data(as_text=True)
    resp = client.post(
        "/portal/login", data={"username": "locked", "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert resp.status_code == 401
    assert "账号已暂时锁定" in resp.get_data(as_text=True)


def _assert_append_only(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (at, actor_kind, action) VALUES (CURRENT_TIMESTAMP, 'system', 't')"))
    for statement in ("UPDATE audit_log SET action = 'changed'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalars().all() == ["t"]


def test_audit_log_is_append_only_on_the_test_database(app):
    with app.app_context():
        _assert_append_only(db.engine)


@pytest.mark.postgres
def test_audit_log_is_append_only_on_postgresql(tmp_path):
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    from tests.core.test_migrations import migrate_database

    url = scratch_database_url(server, "relieflink_audit_test")
    migrate_database(url, "upgrade")
    engine = create_engine(url)
    try:
        _assert_append_only(engine)
    finally:
        engine.dispose()
        drop_postgres_database(url)
