"""Review campaign benchmark: N active 低保 enrollments over the demo county's townships in PostgreSQL, then
one campaign start (tasks + cases, set-based) and 200 recorded outcomes through the service. Prints figures.

    .venv/bin/python bench/reviews.py [--enrollments 10000]

Needs PostgreSQL at BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_reviews_bench;
dropped and re-created).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/relieflink_reviews_bench")

GENERATE = [
    """WITH t AS (SELECT array_agg(code ORDER BY code) AS codes FROM regions
                  WHERE level = 'township' AND parent_code = '360124')
       INSERT INTO registry_households (id, head_person_id, residence_township_code, county_code, source_type,
                                        source_id, created_at, updated_at)
       SELECT g, g, codes[1 + g % array_length(codes, 1)], '360124', 'import', 'bench' || g, now(), now()
       FROM generate_series(1, :n) AS g, t""",
    """INSERT INTO enrollments (reference, decision_ref, program, household_id, person_id, status, monthly_amount,
                                member_count, start_month, township_code, county_code, payee_name, created_at,
                                updated_at, version)
       SELECT 'BZB' || g, 'bench:' || g, 'dibao', h.id, h.head_person_id, 'active', 300 + g % 600, 1 + g % 4,
              '2026-01', h.residence_township_code, '360124', '张' || g, now(), now(), 1
       FROM generate_series(1, :n) AS g JOIN registry_households h ON h.id = g""",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrollments", type=int, default=10_000)
    args = parser.parse_args()
    from sqlalchemy import create_engine, insert, select, text
    from sqlalchemy.engine import make_url

    url = make_url(PG)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": PG, "LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    os.environ.update(env)
    from core import clock
    from core.actor import Actor
    from core.database import db
    from core.regions import services as regions
    from core.registry import reviews
    from core.registry.models import ReviewTask
    from wsgi import create_app

    app = create_app("development", DATABASE_URL=PG)
    with app.app_context():
        regions.load_demo_regions()
        db.session.commit()
        from datetime import date

        from core import pii
        from core.idnumber import make_id_number
        from core.registry.models import Person

        now = clock.utcnow()
        numbers = [
            make_id_number("360124", date(1950, 1, 1) + timedelta(days=g // 900), g % 900 + 1)
            for g in range(args.enrollments)
        ]
        db.session.execute(
            insert(Person),
            [
                {
                    "id": g + 1,
                    "id_number_enc": pii.encrypt_id(number),
                    "id_number_bidx": pii.blind_index(number),
                    "id_number_l4": pii.last4_index(number),
                    "name": f"张{g + 1}",
                    "county_code": "360124",
                    "created_at": now,
                    "updated_at": now,
                }
                for g, number in enumerate(numbers)
            ],
        )
        for statement in GENERATE:
            db.session.execute(text(statement), {"n": args.enrollments})
        db.session.commit()
        county = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")
        started = time.perf_counter()
        campaign = reviews.start_campaign(
            county,
            name="2026年下半年复核",
            program="dibao",
            township_codes=None,
            deadline=clock.local_today() + timedelta(days=60),
        )
        db.session.commit()
        elapsed = time.perf_counter() - started
        print(f"start_campaign: {campaign.task_count:,} tasks and cases in {elapsed:.2f} s")
        ids = list(
            db.session.scalars(
                select(ReviewTask.id).where(ReviewTask.campaign_id == campaign.id).order_by(ReviewTask.id).limit(200)
            )
        )
        durations = []
        for n, task_id in enumerate(ids):
            t0 = time.perf_counter()
            outcome = ("continue", "exit", "suspend", "adjust")[n % 4]
            reviews.record_outcome(
                county,
                task_id,
                outcome,
                reason="收入变化" if outcome != "continue" else None,
                visit_record="入户核查",
                new_amount="100" if outcome == "adjust" else None,
            )
            db.session.commit()
            durations.append(time.perf_counter() - t0)
        durations.sort()
        print(
            f"record_outcome: p50 {durations[len(durations) // 2] * 1000:.1f} ms, p95 "
            f"{durations[int(len(durations) * 0.95)] * 1000:.1f} ms over {len(durations)}"
        )
        t0 = time.perf_counter()
        rows, total = reviews.progress(county, campaign)
        print(
            f"progress: {len(rows)} townships, {total['done']} done, saved {total['saved']} "
            f"in {(time.perf_counter() - t0) * 1000:.1f} ms"
        )
        db.session.remove()


if __name__ == "__main__":
    main()
