"""The hot reads run without a transaction (issue 15: no BEGIN/COMMIT round trips); a write inside such a
request is refused before it reaches the database, and the token check still ends access at once."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from core.accounts.models import User
from core.database import db
from tests.helpers import bound_citizen, draft_body, id_number
from web.hooks import WriteInReadOnlyRequest, start_read_only


def _levels(app, client, path, headers) -> list[str | None]:
    """The isolation level each statement of the request ran with (AUTOCOMMIT: no transaction)."""
    levels: list[str | None] = []

    def record(conn, cursor, statement, *args):
        levels.append(conn.get_execution_options().get("isolation_level"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        resp = client.get(path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert resp.status_code == 200, resp.get_json()
    return levels


def test_hot_reads_run_in_autocommit_and_other_requests_in_a_transaction(app, client):
    headers = bound_citizen(client, "13800001801", "李四", id_number(seq=31))
    created = client.post("/api/v1/applications", headers=headers, json=draft_body("李四", id_number(seq=31)))
    assert created.status_code == 201
    for path in ("/api/v1/applications", "/api/v1/me", "/api/v1/reports"):
        levels = _levels(app, client, path, headers)
        assert levels and set(levels) == {"AUTOCOMMIT"}, (path, levels)
    detail = _levels(app, client, f"/api/v1/applications/{created.get_json()['id']}", headers)
    assert detail and "AUTOCOMMIT" not in detail


def test_a_write_in_a_read_only_request_is_refused_before_the_database(app, client):
    bound_citizen(client, "13800001802", "王五", id_number(seq=32))
    with app.app_context():
        assert start_read_only(db.session)
        user = db.session.scalar(select(User).where(User.phone == "13800001802"))
        user.real_name = "改名"
        with pytest.raises(WriteInReadOnlyRequest):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(WriteInReadOnlyRequest):
            db.session.execute(update(User).where(User.id == user.id).values(real_name="改名"))
        db.session.rollback()
        db.session.remove()
        # nothing was written, and the next unit of work is an ordinary transaction again
        assert db.session.scalar(select(User.real_name).where(User.phone == "13800001802")) == "王五"
        assert not db.session.info.get("read_only")
        db.session.remove()


def test_a_session_that_has_begun_is_left_as_it_is(app):
    with app.app_context():
        db.session.execute(select(User.id).limit(1))
        assert start_read_only(db.session) is False
        assert not db.session.info.get("read_only")
        db.session.remove()


def test_logout_still_ends_access_to_the_hot_reads_at_once(app, client):
    login = client.post("/api/v1/auth/sms/send", json={"phone": "13800001803"})
    code = login.get_json()["dev_code"]
    tokens = client.post("/api/v1/auth/sms/verify", json={"phone": "13800001803", "code": code}).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for path in ("/api/v1/applications", "/api/v1/me", "/api/v1/reports"):
        assert client.get(path, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code in (200, 204)
    for path in ("/api/v1/applications", "/api/v1/me", "/api/v1/reports"):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 401 and resp.get_json()["status"] == "session_revoked", path


def test_a_remembered_token_still_expires_and_a_forged_one_still_fails(app, client):
    from datetime import timedelta

    from core import clock
    from core.accounts import tokens as token_service

    login = client.post("/api/v1/auth/sms/send", json={"phone": "13800001804"})
    code = login.get_json()["dev_code"]
    access = client.post("/api/v1/auth/sms/verify", json={"phone": "13800001804", "code": code}).get_json()[
        "access_token"
    ]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    hits = token_service._verify.cache_info().hits
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    assert token_service._verify.cache_info().hits == hits + 1  # its signature was checked once, then remembered
    head, payload, signature = access.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401 and resp.get_json()["status"] == "token_invalid"
    clock.set_offset(timedelta(seconds=token_service.settings().access_ttl + 60))
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert resp.status_code == 401 and resp.get_json()["status"] == "token_expired"
    clock.set_offset(timedelta(0))
    # another secret (configure) forgets what was verified under the old one
    old = token_service.settings()
    try:
        token_service.configure(type(old)(**{**old.__dict__, "secret": old.secret + "-rotated"}))
        resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
        assert resp.status_code == 401 and resp.get_json()["status"] == "token_invalid"
    finally:
        token_service.configure(old)
