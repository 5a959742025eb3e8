"""API load benchmark: gunicorn (2 workers) + PostgreSQL on loopback.

Measures throughput and latency of
  - GET /api/v1/applications (authenticated, 5 applications per user),
  - create + submit (a proxy application for a new person each time: POST then POST /submit),
next to a bare Flask route served by the same gunicorn settings in the same run, and prints the ratios.

    .venv/bin/python bench/api_load.py [--seconds 10] [--connections 32]

Needs PostgreSQL at BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_bench;
the database is dropped and re-created). Targets (issue 3): reads >= 50 % of the bare route's throughput,
create+submit >= 25 %, p99 <= 100 ms at 32 connections, 0 errors.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402

PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_bench")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
USERS = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": PG,
        "JWT_ACCESS_TTL_SECONDS": "7200",
        "RATELIMIT_ENABLED": "false",
        # as in production, tasks go to a broker (no worker here: it would take the CPUs the server uses)
        "CELERY_BROKER_URL": BROKER,
        "LOG_LEVEL": "WARNING",
        "STORAGE_DIR": "/tmp/relieflink-bench-storage",
    }


def prepare() -> list[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(PG)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
    )
    os.environ.update(env())
    from core.accounts import tokens
    from core.accounts.models import User
    from core.actor import Actor
    from core.applications import services as applications
    from core.applications import settings
    from core.database import db
    from core.identity import services as identity
    from core.identity.providers import ConsoleIdentityService
    from core.idnumber import make_id_number
    from core.regions.services import load_demo_regions
    from wsgi import create_app

    app = create_app()
    access = []
    with app.app_context():
        load_demo_regions()
        settings.set_program_setting(Actor("system", None), "360124", "dibao", required_materials=[])
        for i in range(USERS):
            user = User(phone=f"139{i:08d}")
            db.session.add(user)
            db.session.flush()
            identity.claim_and_verify(
                Actor("system", None),
                user,
                "测试用户",
                make_id_number("360124", date(1970, 1, 1) + timedelta(days=i), 1),
                ConsoleIdentityService(),
                settings=identity.IdentitySettings(),
            )
            actor = Actor("citizen", user.id)
            for _ in range(5):
                applications.create_draft(actor, user, "dibao", on_behalf_of=None, fields={})
            access.append(tokens.start_session(user, method="sms", ip=None, user_agent="bench").access_token)
        db.session.commit()
    return access


def start_gunicorn(target: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn {target} did not start: {proc.stderr.read().decode()[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    tokens = prepare()
    from core.idnumber import make_id_number

    bare_port, app_port = free_port(), free_port()
    procs = [start_gunicorn("bench.bare_app:app", bare_port), start_gunicorn("wsgi:create_app()", app_port)]
    try:

        def bare(conn, n):
            status, _ = loadgen.request(conn, "GET", "/bare")
            return status == 200

        def read(conn, n):
            status, _ = loadgen.request(
                conn,
                "GET",
                "/api/v1/applications?page_size=20",
                headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
            )
            return status == 200

        def create_submit(conn, n):
            headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
            born = date(1940, 1, 1) + timedelta(days=(n // 997) % 20000)
            number = make_id_number("360124", born, n % 997)
            body = {
                "program": "dibao",
                "on_behalf_of": {"name": "王大爷", "id_number": number, "relation": "cadre", "reason": "elderly"},
                "residence_township_code": "360124100",
                "residence_address": "民和镇解放街1号",
                "hukou_township_code": "360124100",
                "hardship_reason": "年老体弱，无收入",
                "members": [
                    {
                        "name": "王大爷",
                        "id_number": number,
                        "relation": "self",
                        "health": "chronic",
                        "employment": "unable",
                    }
                ],
                "incomes": [{"category": "pension", "monthly_amount": "200"}],
            }
            status, data = loadgen.request(conn, "POST", "/api/v1/applications", headers=headers, body=body)
            if status != 201:
                return False
            app_id = json.loads(data)["id"]
            status, _ = loadgen.request(conn, "POST", f"/api/v1/applications/{app_id}/submit", headers=headers)
            return status == 200

        kw = {"connections": args.connections, "seconds": args.seconds}
        results = [
            loadgen.run("bare Flask route (baseline)", "127.0.0.1", bare_port, bare, **kw),
            loadgen.run("GET /api/v1/applications", "127.0.0.1", app_port, read, **kw),
            loadgen.run("create + submit (2 requests)", "127.0.0.1", app_port, create_submit, **kw),
        ]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        import redis

        redis.Redis.from_url(BROKER).flushdb()  # drop the queued notification tasks
    base = results[0].rps
    print(
        f"\ngunicorn -w 2 -k gthread --threads 4; PostgreSQL; Redis broker; {args.connections} connections; "
        f"{args.seconds:.0f} s per scenario; {os.cpu_count()} CPUs shared with the load generator"
    )
    for r in results:
        print(r.line())
    read_ratio, write_ratio = results[1].rps / base, results[2].rps * 2 / base
    print(f"\nreads / bare: {read_ratio:.0%} (target >= 50%)")
    print(f"create+submit requests / bare: {write_ratio:.0%} (target >= 25%; {results[2].rps:.1f} pairs/s)")
    print(
        f"p99 reads {results[1].pct(99):.1f} ms, create+submit pair {results[2].pct(99):.1f} ms "
        f"(target <= 100 ms); errors {sum(r.errors for r in results)} (target 0)"
    )


if __name__ == "__main__":
    main()
