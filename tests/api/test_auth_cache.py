"""The token check's in-process cache (core.accounts.session_cache), in one process on the suite's database
and a real Redis: a hit costs no SQL; a role revoked, an account disabled or a logout is seen by the very next
request; with Redis unreachable every request checks the database (correctness first)."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import event

from core import clock
from core.accounts import services as accounts
from core.accounts import session_cache
from core.accounts.models import User, UserRole
from core.actor import Actor
from core.database import commit, db
from tests.conftest import REDIS_URL, unavailable
from tests.helpers import citizen_headers

SYSTEM = Actor("system", None)
TOWNSHIP = "360124100"


@pytest.fixture
def cache():
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    session_cache.configure(REDIS_URL, ttl_seconds=600)
    yield
    session_cache.configure(None)


class Statements:
    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.seen: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        self.seen.append(statement)


def _session_queries(seen: list[str]) -> list[str]:
    return [s for s in seen if "FROM auth_sessions" in s]


def test_a_cached_session_costs_no_query_and_sees_changes_at_once(app, client, cache):
    headers = citizen_headers(client, "13800001701")
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # loads and caches
    with Statements(app) as seen:
        me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["roles"] == []
    assert _session_queries(seen) == [], seen

    with app.app_context():  # an officer grants a role (another unit of work): the next request sees it
        grant = accounts.grant_reporter_role(SYSTEM, accounts.find_user_by_phone("13800001701"), "volunteer", TOWNSHIP)
        commit()
        grant_id = grant.id
        db.session.remove()
    assert [r["role"] for r in client.get("/api/v1/me", headers=headers).get_json()["roles"]] == ["volunteer"]
    with app.app_context():
        db.session.get(UserRole, grant_id).revoked_at = clock.utcnow()  # as revoke_reporter_role does
        commit()
        db.session.remove()
    assert client.get("/api/v1/me", headers=headers).get_json()["roles"] == []

    with app.app_context():  # the account is disabled
        accounts.find_user_by_phone("13800001701").is_active = False
        commit()
        db.session.remove()
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401 and resp.get_json()["status"] == "account_disabled"


def test_logout_ends_a_cached_session_at_once(app, client, cache):
    headers = citizen_headers(client, "13800001702")
    for _ in range(2):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401 and resp.get_json()["status"] == "session_revoked"


def test_without_redis_every_request_checks_the_database(app, client):
    session_cache.configure("redis://127.0.0.1:1/0", ttl_seconds=600, socket_timeout=0.2)  # nothing listens
    try:
        headers = citizen_headers(client, "13800001703")
        for _ in range(2):
            with Statements(app) as seen:
                assert client.get("/api/v1/me", headers=headers).status_code == 200
            assert len(_session_queries(seen)) == 1
        with app.app_context():
            user = db.session.scalar(db.select(User).where(User.phone == "13800001703"))
            user.is_active = False
            commit()
            db.session.remove()
        assert client.get("/api/v1/me", headers=headers).status_code == 401
    finally:
        session_cache.configure(None)
