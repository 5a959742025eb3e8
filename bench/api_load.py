"""API load benchmark (issue 15): gunicorn (2 workers, gthread x 4) + PostgreSQL + Redis on loopback.

Servers, each with the same gunicorn settings: the app (token cache on Redis), a hand-written Flask + psycopg
app serving GET /api/v1/applications with the same queries and response (bench/psycopg_app.py), and a bare
Flask route. Every server must answer HTTP 200 from every worker (each worker's CPU time moves) before
anything is measured. Load comes from `wrk` (closed loop, 2 threads) and `hey -q` (a fixed rate), native
programs, not a Python generator on the same cores; scenarios alternate (A/B/A/B...) and medians are printed.

    .venv/bin/python bench/api_load.py [--seconds 8] [--rounds 3] [--connections 16]

Prints the yardsticks with their goals: list >= 60 % of the psycopg baseline, CPU per list request <= 4x
bare Flask's (from /proc of the workers), create + submit statements (<= 3 and <= 8) and CPU per pair,
p99 <= 100 ms at 100 req/s and the capacity (req/s where p99 crosses 100 ms). The face yardstick is
bench/face_verify.py's. The machine's cores are shared (also with wrk): ratios of one run are what count.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.load_tools import (  # noqa: E402
    cpu_seconds,
    hey,
    start_gunicorn,
    stop,
    worker_pids,
    wrk,
)

PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_bench")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
USERS = 64
CASES = 120
CAPTURE = Path("/tmp/relieflink-bench-queue-capture.pickle")
QUEUE_COOKIE: dict[str, str] = {}  # the officer's portal cookie (name, value), set by prepare()


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
        # as in production: the limiter on, its counters in Redis (reads carry no limit; they must not pay for it)
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_STORAGE_URI": BROKER,
        # as in production, tasks go to a broker (no worker here: it would take the CPUs the server uses)
        "CELERY_BROKER_URL": BROKER,
        "LOG_LEVEL": "WARNING",
        "STORAGE_DIR": "/tmp/relieflink-bench-storage",
        "AUTH_CACHE_REDIS_URL": BROKER,
        "BENCH_DSN": PG.replace("postgresql+psycopg://", "postgresql://"),
        "BENCH_QUEUE_CAPTURE": str(CAPTURE),
    }


def _seed_reports(user, n: int) -> None:
    """Reports as the reporter's list reads them (half with an ID number, encrypted as the app stores it)."""
    from core.database import db
    from core.idnumber import make_id_number
    from core.reports.models import Report

    for k in range(n):
        report = Report(
            reference=f"BG{user.id:06d}{k:04d}",
            reporter_user_id=user.id,
            reporter_role="grid_worker",
            category=("elderly_alone", "disability", "child_without_carer", "other")[k % 4],
            urgency="normal",
            township_code="360124100",
            address="民和镇解放街1号",
            person_name="李*",
            age_group="elderly",
            description="独居老人，行动不便",
            status="new",
        )
        if k % 2 == 0:
            report.person_id_number = make_id_number("360124", date(1940, 1, 1) + timedelta(days=user.id * 7 + k), 1)
        db.session.add(report)


def _seed_queue() -> str:
    """A township officer, CASES open cases in the township (due dates spread, some overdue), and a portal
    session; returns the session's cookie value."""
    from core import clock
    from core.accounts import portal_sessions
    from core.accounts import services as accounts
    from core.actor import SYSTEM
    from core.casework import services as casework

    officer, _ = accounts.create_officer(
        SYSTEM, username="bench-officer", password="Correct-Horse-Battery-9", role="township_officer",
        region_code="360124100", display_name="经办人甲",
    )  # fmt: skip
    for n in range(CASES):
        case = casework.open_case(
            SYSTEM,
            kind="application",
            township_code="360124100",
            title=f"低保申请 · 张{n}",
            due_in_working_days=n % 10,
            program="dibao",
            household_size=1 + n % 5,
        )
        if n % 7 == 0:
            case.next_due = clock.local_today() - timedelta(days=1 + n % 3)  # overdue
        if n % 3 == 0:
            case.assignee_officer_id = officer.id
    token, _ = portal_sessions.create(
        officer_id=officer.id, data={}, ip=None, user_agent="bench", policy=portal_sessions.SessionPolicy(600, 12)
    )
    return token


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
    from core.accounts.models import User, UserRole
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
            db.session.add(UserRole(user_id=user.id, role="grid_worker", region_code="360124100"))
            _seed_reports(user, 5)
            access.append(tokens.start_session(user, method="sms", ip=None, user_agent="bench").access_token)
        QUEUE_COOKIE[app.config["SESSION_COOKIE_NAME"]] = _seed_queue()
        db.session.commit()
    return access


def proxy_body(n: int) -> dict:
    from core.idnumber import make_id_number

    number = make_id_number("360124", date(1940, 1, 1) + timedelta(days=(n // 997) % 20000), n % 997)
    return {
        "program": "dibao",
        "on_behalf_of": {"name": "王大爷", "id_number": number, "relation": "cadre", "reason": "elderly"},
        "residence_township_code": "360124100",
        "residence_address": "民和镇解放街1号",
        "hukou_township_code": "360124100",
        "hardship_reason": "年老体弱，无收入",
        "members": [
            {"name": "王大爷", "id_number": number, "relation": "self", "health": "chronic", "employment": "unable"}
        ],
        "incomes": [{"category": "pension", "monthly_amount": "200"}],
    }


def _kind(statement: str) -> str:
    """What a statement of the queue page is, for the baseline's rendering (bench/psycopg_app.py)."""
    if "FROM portal_sessions" in statement:
        return "session"
    if statement.startswith("UPDATE portal_sessions"):
        return "touch"
    if "count(" in statement.lower():
        return "count"
    if "FROM cases" in statement and "LIMIT" in statement:
        return "page"
    if "FROM regions" in statement:
        return "names"
    if "FROM officers" in statement and "officers.id = " in statement:
        return "officer"
    if "FROM officers" in statement and "is_active" in statement:
        return "officers"
    return "other"


def statement_counts(token: str) -> dict[str, int]:
    """SQL statements of each request up to its commit, in-process with the same configuration (token cache on);
    the queue page's statements are kept (CAPTURE) for the psycopg baseline to replay."""
    import pickle

    from sqlalchemy import event

    from core.database import db
    from wsgi import create_app

    app = create_app()
    client = app.test_client()
    ((name, value),) = QUEUE_COOKIE.items()
    client.set_cookie(name, value, path="/portal")
    headers = {"Authorization": f"Bearer {token}"}
    counts: dict[str, int] = {}
    seen: list[tuple[str, dict]] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, dict(parameters or {})))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for label, call in (
            ("GET /api/v1/applications", lambda: client.get("/api/v1/applications?page_size=20", headers=headers)),
            ("GET /api/v1/me", lambda: client.get("/api/v1/me", headers=headers)),
            ("GET /api/v1/reports", lambda: client.get("/api/v1/reports?page_size=20", headers=headers)),
            ("GET /portal/queue", lambda: client.get("/portal/queue")),
        ):
            call()  # the first fills the caches (and the portal session's CSRF secret)
            seen.clear()
            response = call()
            assert response.status_code == 200, (label, response.status_code)
            counts[label] = len(seen)
        CAPTURE.write_bytes(pickle.dumps([(_kind(st), st, params) for st, params in seen]))
        seen.clear()
        created = client.post("/api/v1/applications", headers=headers, json=proxy_body(999_999))
        assert created.status_code == 201, created.get_json()
        counts["create"] = len(seen)
        seen.clear()
        submitted = client.post(f"/api/v1/applications/{created.get_json()['id']}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.get_json()
        counts["submit"] = len(seen)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return counts


def same_answers(base: dict[str, str], token: str, reads: list[tuple[str, str]]) -> None:
    """The baseline answers what the app answers (body and X-Pagination) for each JSON read; refuse to
    measure otherwise."""
    import urllib.request

    def get(url: str) -> tuple[object, str | None]:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read()), resp.headers.get("X-Pagination")

    for label, path in reads:
        app, baseline = get(base["app"] + path), get(base["psycopg"] + path)
        if app != baseline:
            raise SystemExit(f"{label}: the psycopg baseline answers differently:\napp {app}\nbaseline {baseline}")


READS = [  # (label, path, goal): each hot read against the psycopg baseline (goal: >= 60 % of its req/s)
    ("GET /api/v1/applications", "/api/v1/applications?page_size=20", 0.6),
    ("GET /api/v1/me", "/api/v1/me", 0.6),
    ("GET /api/v1/reports", "/api/v1/reports?page_size=20", 0.6),
    ("GET /portal/queue", "/portal/queue", 0.6),
]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    access = prepare()
    counts = statement_counts(access[0])
    ports = {name: free_port() for name in ("bare", "psycopg", "app")}
    procs = {
        "bare": start_gunicorn("bench.bare_app:app", ports["bare"], env(), probe="/bare"),
        "psycopg": start_gunicorn("bench.psycopg_app:app", ports["psycopg"], env()),
        "app": start_gunicorn("wsgi:create_app()", ports["app"], env()),
    }
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    cookie = "{}={}".format(*next(iter(QUEUE_COOKIE.items())))
    reads = [(label, path) for label, path, _ in READS if not path.startswith("/portal")]
    try:
        same_answers(base, access[0], reads)
    except BaseException:
        for proc in procs.values():
            stop(proc)
        raise
    scenarios = [("bare Flask route", "bare", "/bare", None)]
    for label, path, _ in READS:
        scenarios += [(f"psycopg: {label}", "psycopg", path, label), (f"app: {label}", "app", path, label)]
    runs: dict[str, list] = {name: [] for name, *_ in scenarios}
    try:
        for _ in range(args.rounds):  # alternating: every scenario once per round
            for name, server, path, label in scenarios:
                portal = path.startswith("/portal")
                runs[name].append(
                    wrk(
                        base[server] + path,
                        tokens=None if label is None or portal else access,
                        cookie=cookie if portal else None,
                        seconds=args.seconds,
                        connections=args.connections,
                        master=procs[server].pid,
                    )
                )
        # create + submit: a pair per iteration, closed loop with 4 connections (the answers carry the id)
        pids = worker_pids(procs["app"].pid)
        cpu0 = cpu_seconds(pids)

        def create_submit(conn, n):
            headers = {"Authorization": f"Bearer {access[n % len(access)]}"}
            status, data = loadgen.request(conn, "POST", "/api/v1/applications", headers=headers, body=proxy_body(n))
            if status != 201:
                return False
            app_id = json.loads(data)["id"]
            status, _ = loadgen.request(conn, "POST", f"/api/v1/applications/{app_id}/submit", headers=headers)
            return status == 200

        pairs = loadgen.run(
            "create + submit", "127.0.0.1", ports["app"], create_submit, connections=4, seconds=args.seconds, warmup=0
        )
        pair_cpu = (cpu_seconds(pids) - cpu0) * 1000 / max(1, pairs.count + pairs.errors)
        # a fixed rate, then stepping up until p99 crosses 100 ms
        list_url = base["app"] + "/api/v1/applications?page_size=20"
        fixed = hey(list_url, token=access[0], rate=100, seconds=args.seconds)
        capacity, steps = None, []
        for rate in (100, 150, 200, 250, 300, 400, 500):
            step = hey(list_url, token=access[1], rate=rate, seconds=max(4.0, args.seconds / 2))
            steps.append((rate, step))
            if step.p99 > 100 or step.errors:
                capacity = rate
                break
    finally:
        for proc in procs.values():
            stop(proc)
        import redis

        redis.Redis.from_url(BROKER).flushdb()  # the queued notification tasks and the token versions
    med = {
        name: (median([r.rps for r in rs]), median([r.p99 for r in rs]), median([r.cpu_ms_per_request for r in rs]))
        for name, rs in runs.items()
    }
    print(
        f"\ngunicorn -w 2 -k gthread --threads 4 --preload; PostgreSQL; Redis; wrk -t2 -c{args.connections}; "
        f"{args.seconds:.0f} s x {args.rounds} alternating rounds; medians; {os.cpu_count()} CPUs shared with wrk "
        "and other work on this machine: compare ratios of the same run"
    )
    for name, rs in runs.items():
        rps, p99, cpu = med[name]
        print(
            f"  {name:34} {rps:8.0f} req/s  p99 {p99:6.1f} ms  CPU {cpu:5.2f} ms/req  "
            f"errors {sum(r.errors for r in rs)}  (runs: {', '.join(f'{r.rps:.0f}' for r in rs)})"
        )
    print(
        f"  {'create + submit (pairs, 4 conn.)':34} {pairs.rps:8.1f} pairs/s  p99 {pairs.pct(99):6.1f} ms  "
        f"CPU {pair_cpu:5.1f} ms/pair  errors {pairs.errors}"
    )
    bare = med["bare Flask route"]
    print("\nYardsticks (goal in brackets):")
    for label, _, goal in READS:
        app_read, baseline = med[f"app: {label}"], med[f"psycopg: {label}"]
        ratio = app_read[0] / baseline[0]
        # each round's app run right after its baseline run: the ratio per round shows what the load did
        rounds = [a.rps / b.rps for a, b in zip(runs[f"app: {label}"], runs[f"psycopg: {label}"], strict=True)]
        print(
            f"  reads: {label:26} {ratio:4.0%} of the psycopg baseline ({app_read[0]:.0f} / {baseline[0]:.0f} req/s; "
            f"CPU {app_read[2]:.2f} / {baseline[2]:.2f} ms; per round {', '.join(f'{r:.0%}' for r in rounds)})   "
            f"[>= {goal:.0%}] {'OK' if ratio >= goal else 'BELOW'}"
        )
    app_list, baseline = med["app: GET /api/v1/applications"], med["psycopg: GET /api/v1/applications"]
    cpu_ratio = app_list[2] / bare[2] if bare[2] else float("nan")
    print(
        f"  CPU per list request: {app_list[2]:.2f} ms = {cpu_ratio:.1f}x bare Flask's {bare[2]:.2f} ms "
        f"(psycopg baseline {baseline[2]:.2f} ms)   [<= 4x] {'OK' if cpu_ratio <= 4 else 'ABOVE'}"
    )
    print(
        f"  statements: list {counts['GET /api/v1/applications']}, /me {counts['GET /api/v1/me']}, "
        f"reports {counts['GET /api/v1/reports']}, queue page {counts['GET /portal/queue']}, "
        f"create {counts['create']} [<= 3], submit {counts['submit']} [<= 8]; CPU {pair_cpu:.1f} ms per pair"
    )
    print(
        f"  list at a fixed 100 req/s (hey -q): p50 {fixed.p50:.1f} ms, p99 {fixed.p99:.1f} ms, "
        f"{fixed.rps:.0f} req/s, errors {fixed.errors}   [p99 <= 100 ms] {'OK' if fixed.p99 <= 100 else 'ABOVE'}"
    )
    print(
        "  capacity (p99 crosses 100 ms): "
        + (f"at {capacity} req/s" if capacity else f"not reached up to {steps[-1][0]} req/s")
        + "  ("
        + ", ".join(f"{rate}/s p99 {s.p99:.0f} ms" for rate, s in steps)
        + ")"
    )
    print("  face: see bench/face_verify.py")


if __name__ == "__main__":
    main()
