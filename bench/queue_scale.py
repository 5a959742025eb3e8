"""Queue scale benchmark: 1,000,000 cases over the real township codes of one province in PostgreSQL,
then the township queue page and the county overdue list, p50/p95 over 200 requests through the app
(Flask test client: routing, auth, queries, template rendering). Prints the query plans.

    .venv/bin/python bench/queue_scale.py [--cases 1000000] [--province 36] [--requests 200]

Needs PostgreSQL at BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_scale;
dropped and re-created) and the regions CSVs in ../shared/data/regions. Target (issue 6): p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_scale")
REGIONS = ROOT.parent / "shared" / "data" / "regions"

GENERATE = """
WITH t AS (SELECT array_agg(code ORDER BY code) AS codes FROM regions
           WHERE level = 'township' AND code LIKE :province || '%')
INSERT INTO cases (reference, kind, title, status, township_code, county_code, city_code, province_code,
                   due_date, created_at, updated_at, version, is_info_copy, is_proxy, priority, stage, next_due,
                   limit_date, subject_type, subject_id, household_size, program)
SELECT 'S' || g, 'application', '低保申请 · 张*',
       CASE WHEN g % 5 = 0 THEN 'closed' ELSE 'in_progress' END,
       x.code, substr(x.code, 1, 6), substr(x.code, 1, 4), substr(x.code, 1, 2),
       y.d, now() - (g % 400) * interval '1 day', now(), 1, false, g % 7 = 0, 0,
       CASE WHEN g % 5 = 0 THEN 'closed'
            ELSE (ARRAY['accept', 'investigating', 'review', 'public_notice', 'confirmation'])[1 + g % 5] END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE y.d END, y.d + 20, 'application', g, 1 + g % 5, 'dibao'
FROM generate_series(1, :n) AS g,
     LATERAL (SELECT codes[1 + g % array_length(codes, 1)] AS code FROM t) AS x,
     LATERAL (SELECT current_date - 60 + (g % 120) AS d) AS y
"""


def env() -> dict:
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": PG,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "false",
        "STORAGE_DIR": "/tmp/relieflink-scale-storage",
    }


def setup(n: int, province: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(PG)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env(), check=True, capture_output=True)
    subprocess.run([*flask, "regions", "import", str(REGIONS)], cwd=ROOT, env=env(), check=True, capture_output=True)
    engine = create_engine(PG)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(GENERATE), {"province": province, "n": n})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
        townships = conn.execute(text("SELECT count(DISTINCT township_code) FROM cases")).scalar()
        counties = conn.execute(text("SELECT count(DISTINCT county_code) FROM cases")).scalar()
    print(
        f"generated {n:,} cases over {townships} townships / {counties} counties of province {province} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    engine.dispose()


def measure(client, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--province", default="36")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-setup", action="store_true")
    args = parser.parse_args()
    if not args.skip_setup:
        setup(args.cases, args.province)
    os.environ.update(env())
    import pyotp
    from sqlalchemy import select, text

    from core import clock
    from core.accounts import services as accounts
    from core.actor import SYSTEM
    from core.casework.models import Case
    from core.database import db
    from core.desk import queues
    from wsgi import create_app

    app = create_app()
    with app.app_context():
        township = db.session.scalar(
            select(Case.township_code).group_by(Case.township_code).order_by(db.func.count().desc()).limit(1)
        )
        county = township[:6]
        secrets = {}
        for name, role, region in (
            ("bench_town", "township_officer", township),
            ("bench_county", "county_officer", county),
        ):
            existing = db.session.scalar(select(accounts.Officer).where(accounts.Officer.username == name))
            if existing is None:
                _, secrets[name] = accounts.create_officer(
                    SYSTEM, username=name, password="Bench-Password-1", role=role, region_code=region
                )
        db.session.commit()
        in_township = db.session.scalar(select(db.func.count()).select_from(Case).where(Case.township_code == township))
        in_county = db.session.scalar(select(db.func.count()).select_from(Case).where(Case.county_code == county))
    print(f"township {township}: {in_township:,} cases; county {county}: {in_county:,} cases")

    def login(name: str):
        client = app.test_client()
        page = client.get("/portal/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/portal/login", data={"username": name, "password": "Bench-Password-1", "csrf_token": token})
        page = client.get("/portal/login/totp").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert (
            client.post(
                "/portal/login/totp", data={"code": pyotp.TOTP(secrets[name]).at(clock.utcnow()), "csrf_token": token}
            ).status_code
            == 302
        )
        return client

    if not secrets:
        print("officers exist from an earlier run; run without --skip-setup")
        return
    town, county_client = login("bench_town"), login("bench_county")
    scenarios = [
        ("township queue page (all, by due date)", town, "/portal/queue"),
        ("township queue: investigating bucket", town, "/portal/queue?bucket=investigating"),
        ("county overdue list", county_client, "/portal/queue?bucket=overdue"),
    ]
    print(f"\n{args.requests} requests each, sequential, through the Flask app (auth, queries, template)")
    for name, client, url in scenarios:
        measure(client, url, 10)  # warm-up
        times = sorted(measure(client, url, args.requests))
        p95 = times[int(0.95 * len(times)) - 1]
        print(
            f"{name:42} p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   max {times[-1]:6.1f} ms"
            f"   {'OK' if p95 <= 100 else 'ABOVE'} (target p95 <= 100 ms)"
        )

    print("\nquery plans")
    with app.app_context():
        actor_town = accounts.officer_actor(
            db.session.scalar(select(accounts.Officer).where(accounts.Officer.username == "bench_town"))
        )
        actor_county = accounts.officer_actor(
            db.session.scalar(select(accounts.Officer).where(accounts.Officer.username == "bench_county"))
        )
        for label, actor, bucket in (
            ("township queue page", actor_town, "all"),
            ("county overdue page", actor_county, "overdue"),
        ):
            stmt = queues.queue_statement(actor, bucket=bucket).limit(20)
            sql = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = db.session.execute(text(f"EXPLAIN ANALYZE {sql}")).scalars().all()
            print(f"-- {label}\n" + "\n".join(plan))


if __name__ == "__main__":
    main()
