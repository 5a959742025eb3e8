"""The token check's cache (core.accounts.session_cache) across real gunicorn processes on PostgreSQL and
Redis: a logout or a reused refresh token ends access at once in every process, not after the cache's TTL.

Two gunicorn masters with one worker each (so that the test knows which process answers) share one
database and one Redis; each has the session cached before the revocation."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import jwt
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import (
    REDIS_URL,
    ROOT,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.faults.topology import free_port

pytestmark = pytest.mark.worker
BIN = ROOT / ".venv" / "bin"
PHONE = "13800009901"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable("PostgreSQL is not reachable")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    database = scratch_database_url(server, "authcache")
    tmp: Path = tmp_path_factory.mktemp("authcache")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RELIEFLINK_TEST", "DATABASE_URL"))},
        "APP_ENV": "development",
        "DATABASE_URL": database,
        "AUTH_CACHE_REDIS_URL": REDIS_URL,
        "AUTH_CACHE_TTL_SECONDS": "600",  # far longer than the test: only the Redis version can end a copy
        "RATELIMIT_ENABLED": "false",
        "SMS_RESEND_SECONDS": "0",  # several log-ins of one phone in a row
        "STORAGE_DIR": str(tmp / "storage"),
        "WEB_WORKERS": "1",
        "WEB_LOG_LEVEL": "warning",
        "FACE_ENGINE_CHECK_ON_WORKER_START": "false",
    }
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ports = [free_port(), free_port()]
    procs = []
    for port in ports:
        log = (tmp / f"gunicorn-{port}.log").open("w")
        procs.append(
            subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:create_app()"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 90
        for url in urls:  # ready = an HTTP 200 from the worker, not a port accepting TCP
            while True:
                try:
                    if requests.get(f"{url}/livez", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, (tmp / f"gunicorn-{url.rsplit(':', 1)[1]}.log").read_text()
                time.sleep(0.3)
        yield urls, database
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        drop_postgres_database(database)


def _login(url: str) -> dict:
    sent = requests.post(f"{url}/api/v1/auth/sms/send", json={"phone": PHONE}, timeout=10)
    assert sent.status_code == 200, sent.text
    resp = requests.post(
        f"{url}/api/v1/auth/sms/verify", json={"phone": PHONE, "code": sent.json()["dev_code"]}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _me(url: str, access: str) -> requests.Response:
    return requests.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {access}"}, timeout=10)


def _revoke_behind_the_cache(database: str, session_id: str) -> None:
    """A change the ORM does not see (raw SQL): the cached copies do not know of it."""
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text("UPDATE auth_sessions SET revoked_at = now() WHERE id = :id"), {"id": session_id})
    engine.dispose()


def test_logout_ends_access_at_once_in_every_worker(servers):
    urls, database = servers
    first, second = _login(urls[0]), _login(urls[0])
    for url in urls:  # both processes hold both sessions
        assert _me(url, first["access_token"]).status_code == 200
        assert _me(url, second["access_token"]).status_code == 200
    # the second session revoked behind the ORM's back: still served from the cache (the cache is in use)
    _revoke_behind_the_cache(database, jwt.decode(second["access_token"], options={"verify_signature": False})["sid"])
    for url in urls:
        assert _me(url, second["access_token"]).status_code == 200
    # a logout through the API (process 0) changes the user's version: both processes reload at once
    out = requests.post(
        f"{urls[0]}/api/v1/auth/logout", headers={"Authorization": f"Bearer {first['access_token']}"}, timeout=10
    )
    assert out.status_code == 204, out.text
    for url in urls:
        for token in (first["access_token"], second["access_token"]):
            resp = _me(url, token)
            assert resp.status_code == 401, (url, resp.text)
            assert resp.json()["status"] == "session_revoked"


def test_refresh_token_reuse_ends_access_at_once_in_every_worker(servers):
    urls, _ = servers
    pair = _login(urls[1])
    rotated = requests.post(f"{urls[1]}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10)
    assert rotated.status_code == 200, rotated.text
    access = rotated.json()["access_token"]
    for url in urls:
        assert _me(url, access).status_code == 200
        assert _me(url, pair["access_token"]).status_code == 200
    # the spent refresh token again (a thief's copy), in the other process
    reused = requests.post(f"{urls[0]}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10)
    assert reused.status_code == 401
    assert reused.json()["status"] == "refresh_reused"
    for url in urls:
        for token in (access, pair["access_token"]):
            resp = _me(url, token)
            assert resp.status_code == 401, (url, resp.text)
            assert resp.json()["status"] == "session_revoked"
