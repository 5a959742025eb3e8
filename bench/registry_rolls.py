"""Payment roll benchmark: draft one county's monthly roll (发放名册) of N active enrollments on PostgreSQL,
next to a hand-written baseline measured in the same run.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/rl_rolls_bench \
        .venv/bin/python bench/registry_rolls.py [--enrollments 10000] [--runs 3]

The database named in DATABASE_URL is DROPPED and re-created (its name must contain "bench"), migrated,
and given the demo regions. N persons, households and active enrollments are generated set-based in one
county (进贤县, 360124) over its townships; last month's roll is drafted, then 5% of the amounts are changed
and 2% of the enrollments suspended (so this month's roll has real changes to find). Then:

- ``draft_roll``: ``core.registry.rolls.draft_roll(county, month)`` + commit, ``--runs`` times (each run is
  a re-draft: DELETE of the lines, INSERT … SELECT, aggregate), median;
- baseline: the equivalent single INSERT … SELECT written by hand and run through psycopg into a scratch
  table (no ORM, no triggers, no aggregates), the same number of runs, median.

Prints both figures and the ratio. Target (issue 11): a county's roll of 10,000 enrollments ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/rl_rolls_bench"
COUNTY = "360124"
PREVIOUS, MONTH = "2026-12", "2027-01"

PERSONS = """
INSERT INTO persons (id_number_enc, id_number_bidx, id_number_l4, name, county_code, created_at, updated_at)
SELECT 'bench-enc-' || g, 'bench-bidx-' || g, 'bench-l4-' || (g % 10000), '测试' || g, :county, now(), now()
FROM generate_series(1, :n) AS g
"""
HOUSEHOLDS = """
WITH t AS (SELECT array_agg(code ORDER BY code) AS codes FROM regions
           WHERE parent_code = :county AND level = 'township')
INSERT INTO registry_households (head_person_id, residence_township_code, county_code, source_type, source_id,
                                 created_at, updated_at)
SELECT p.id, t.codes[1 + p.id % array_length(t.codes, 1)], :county, 'import', 'bench-' || p.id, now(), now()
FROM persons AS p, t
WHERE p.id_number_bidx LIKE 'bench-bidx-%'
"""
ENROLLMENTS = """
INSERT INTO enrollments (reference, decision_ref, program, household_id, person_id, status, monthly_amount,
                         member_count, start_month, township_code, county_code, payee_name, bank_name,
                         bank_account_last4, created_at, updated_at, version)
SELECT 'BENCH' || h.id, 'bench:' || h.id, CASE WHEN h.id % 10 = 0 THEN 'tekun' ELSE 'dibao' END, h.id,
       h.head_person_id, 'active', 300 + h.id % 700 + (h.id % 100) / 100.0, 1 + h.id % 4, '2026-01',
       h.residence_township_code, :county, '测试' || h.id, '中国农业银行', lpad((h.id % 10000)::text, 4, '0'),
       now(), now(), 1
FROM registry_households AS h
WHERE h.source_id LIKE 'bench-%'
"""
CHANGES = """
UPDATE enrollments SET monthly_amount = monthly_amount + 25 WHERE county_code = :county AND id % 20 = 0;
UPDATE enrollments SET status = 'suspended' WHERE county_code = :county AND id % 50 = 1;
"""
# The baseline: what draft_roll's INSERT … SELECT does, written by hand (same joins, same CASE).
SCRATCH = """
CREATE TEMP TABLE bench_lines (
    id serial PRIMARY KEY, roll_id integer, enrollment_id integer, township_code varchar(12),
    village_code varchar(12), program varchar(10), payee_name varchar(50), member_count integer,
    amount numeric(12, 2), previous_amount numeric(12, 2), change varchar(20)
)
"""
BASELINE = """
INSERT INTO bench_lines (roll_id, enrollment_id, township_code, village_code, program, payee_name, member_count,
                         amount, previous_amount, change)
SELECT %(roll)s, e.id, e.township_code, e.village_code, e.program, e.payee_name, e.member_count,
       CASE WHEN e.status = 'active' OR (e.status IN ('exited', 'transferred') AND e.end_month >= %(month)s)
            THEN e.monthly_amount ELSE 0 END,
       p.amount,
       CASE WHEN e.status = 'exited' AND e.end_month = %(previous)s THEN 'exited'
            WHEN e.status = 'transferred' AND e.end_month = %(previous)s THEN 'transferred_out'
            WHEN e.status = 'suspended' THEN 'suspended'
            WHEN p.id IS NULL THEN CASE WHEN e.transferred_from_id IS NOT NULL THEN 'transferred_in' ELSE 'new' END
            WHEN p.amount = 0 THEN 'resumed'
            WHEN p.amount <> e.monthly_amount THEN 'adjusted'
            ELSE 'unchanged' END
FROM enrollments AS e
LEFT JOIN payment_roll_lines AS p ON p.enrollment_id = e.id AND p.roll_id = %(previous_roll)s
WHERE e.county_code = %(county)s AND e.start_month <= %(month)s
  AND (   (e.status = 'active' AND (e.end_month IS NULL OR e.end_month >= %(month)s))
       OR (e.status IN ('exited', 'transferred') AND e.end_month >= %(month)s)
       OR e.status = 'suspended'
       OR (e.status IN ('exited', 'transferred') AND e.end_month = %(previous)s))
ORDER BY e.township_code, e.village_code, e.id
"""


def recreate(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if "bench" not in (parsed.database or ""):
        sys.exit(f"refusing to drop {parsed.database!r}: the bench database's name must contain 'bench'")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enrollments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgresql"):
        sys.exit("DATABASE_URL must name a PostgreSQL database (postgresql+psycopg://…)")
    recreate(url)
    os.environ.update({"DATABASE_URL": url, "APP_ENV": "development", "LOG_LEVEL": "WARNING"})

    import psycopg
    from flask_migrate import upgrade
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.database import commit, db
    from core.regions import services as regions
    from core.registry import rolls
    from wsgi import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        regions.load_demo_regions()
        commit()
        started = time.perf_counter()
        params = {"county": COUNTY, "n": args.enrollments}
        for statement in (PERSONS, HOUSEHOLDS, ENROLLMENTS):
            db.session.execute(text(statement), params)
        commit()
        generated = time.perf_counter() - started
        previous = rolls.draft_roll(COUNTY, PREVIOUS)
        commit()
        previous_id = previous.id
        for statement in CHANGES.strip().split(";\n"):
            db.session.execute(text(statement.rstrip(";")), params)
        commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE enrollments"))
            conn.execute(text("VACUUM ANALYZE payment_roll_lines"))
        print(f"generated {args.enrollments:,} active enrollments in county {COUNTY} in {generated:.1f} s")

        timings = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            roll = rolls.draft_roll(COUNTY, MONTH)
            commit()
            timings.append(time.perf_counter() - t0)
        db.session.refresh(roll)
        lines, payable, total = roll.line_count, roll.payable_count, roll.total_amount
        changes = dict(
            db.session.execute(
                text("SELECT change, count(*) FROM payment_roll_lines WHERE roll_id = :r GROUP BY change"),
                {"r": roll.id},
            ).all()
        )
        roll_id = roll.id
        db.session.remove()

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    baseline = []
    with psycopg.connect(conninfo) as conn:
        conn.execute(SCRATCH)
        conn.commit()
        for _ in range(args.runs):
            conn.execute("TRUNCATE bench_lines")
            conn.commit()
            t0 = time.perf_counter()
            conn.execute(
                BASELINE,
                {"roll": roll_id, "month": MONTH, "previous": PREVIOUS, "previous_roll": previous_id, "county": COUNTY},
            )
            conn.commit()
            baseline.append(time.perf_counter() - t0)
        baseline_lines = conn.execute("SELECT count(*) FROM bench_lines").fetchone()[0]

    ours, theirs = statistics.median(timings), statistics.median(baseline)
    print(f"roll {MONTH}: {lines:,} lines, {payable:,} payable, total {total} 元; changes {changes}")
    print(
        f"draft_roll (re-draft + aggregate + commit): median {ours * 1000:.0f} ms over {args.runs} runs "
        f"({', '.join(f'{t * 1000:.0f}' for t in timings)} ms)"
    )
    print(
        f"baseline hand-written INSERT … SELECT (psycopg, scratch table, {baseline_lines:,} rows): "
        f"median {theirs * 1000:.0f} ms ({', '.join(f'{t * 1000:.0f}' for t in baseline)} ms)"
    )
    print(f"ratio draft_roll / baseline: {ours / theirs:.2f}x; target ≤ 5 s: {'met' if ours <= 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
