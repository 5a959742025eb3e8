# ruff: noqa: E501 - SQL and report lines
"""Cross-check benchmark (issue 17): figures, not a timed test.

Generates ``--records`` department records (default 10,000,000) in 4 categories (deaths, cremations,
vehicles, pensions) as Parquet in the store's layout, and a roster of ``--persons`` enrolled persons
(default 1,000,000, an Arrow table as core.bulk.roster hands it over), then prints, in one run:

- the bare DuckDB join of the same files against the roster (SQL, no rules, count only);
- end to end through the engine (Ibis on DuckDB: every anti-fraud rule) → hits → warnings stored in
  PostgreSQL (``raise_warnings``: upsert + one township case each), records/s and the overhead over the
  bare join; each phase in its own process, with its peak memory (ru_maxrss);
- the roster hand-over: reading the encrypted roster-key cache of ``--persons`` numbers;
- the per-application check look-up (``core.checks.services.lookup``: 3 members × every file), p50/p95.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/rl_checks_bench .venv/bin/python bench/crosscheck.py

The database named by DATABASE_URL is DROPPED and re-created. Warnings in the benchmark carry no
person/enrollment ids (the roster is generated, not in the registry); everything else is as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOWNSHIP = "360124100"


def env() -> dict:
    return {**os.environ, "APP_ENV": "development", "LOG_LEVEL": "WARNING", "STORAGE_DIR": "/tmp/rl-bench-checks"}


def _id(expr: str) -> str:
    """An 18-character ID-like number from an integer SQL expression (unique per value)."""
    return f"'3601241980' || lpad(CAST({expr} AS VARCHAR), 8, '0')"


def generate(root: str, records: int, persons: int) -> dict:
    import duckdb

    os.makedirs(root, exist_ok=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    share = {"pensions": 0.55, "vehicles": 0.25, "deaths": 0.1, "cremations": 0.1}
    out = {}
    t = time.perf_counter()
    # persons 0..persons-1 are enrolled; department rows draw from 10 × persons numbers (10 % hit the roster),
    # deaths from a pool where 1 in 200 rows is an enrolled person
    for cat, part in share.items():
        n = int(records * part)
        directory = f"{root}/{cat}/load=1"
        os.makedirs(directory, exist_ok=True)
        pool = persons * 10 if cat == "pensions" else persons * 200
        pid = f"(hash(i * 7 + {len(cat)}) % {pool})"
        if cat == "pensions":
            cols = (
                "DATE '2026-01-01' + INTERVAL (i % 11) MONTH AS effective_date, 1::BIGINT AS load_id, i::BIGINT AS row_no,"
                " NULL::VARCHAR AS name, CAST(DATE '2026-01-01' + INTERVAL (i % 11) MONTH AS DATE) AS month,"
                " CAST(1000 + i % 500 AS DECIMAL(18,2)) AS amount, 'enterprise' AS pension_type"
            )
        elif cat == "vehicles":
            cols = (
                "DATE '2020-01-01' + CAST(i % 2500 AS INTEGER) AS effective_date, 1::BIGINT AS load_id, i::BIGINT AS row_no,"
                " NULL::VARCHAR AS name, 'P' || i AS plate_no, 'car' AS vehicle_type,"
                " DATE '2020-01-01' + CAST(i % 2500 AS INTEGER) AS registered_on, 'normal' AS status"
            )
        else:
            dcol = "death_date" if cat == "deaths" else "cremation_date"
            extra = "place" if cat == "deaths" else "funeral_home"
            cols = (
                f"DATE '2026-01-01' + CAST(i % 300 AS INTEGER) AS effective_date, 1::BIGINT AS load_id, i::BIGINT AS row_no,"
                f" NULL::VARCHAR AS name, DATE '2026-01-01' + CAST(i % 300 AS INTEGER) AS {dcol}, NULL::VARCHAR AS {extra}"
            )
        con.execute(
            f"COPY (SELECT {_id(pid)} AS id_number, {cols} FROM range({n}) r(i)) "
            f"TO '{directory}/part-0.parquet' (FORMAT parquet, COMPRESSION zstd)"
        )
        out[cat] = [f"{directory}/part-0.parquet"]
    con.execute(
        f"COPY (SELECT i::BIGINT AS person_id, {_id('i')} AS id_number, '王某' AS name, i::BIGINT AS enrollment_id,"
        f" i::BIGINT AS household_id, '{TOWNSHIP}' AS township_code, 'dibao' AS program, DATE '2025-06-01' AS start_date,"
        f" true AS is_payee FROM range({persons}) r(i)) TO '{root}/roster.parquet' (FORMAT parquet)"
    )
    size = sum(os.path.getsize(p[0]) for p in out.values())
    return {"sources": out, "seconds": round(time.perf_counter() - t, 1), "bytes": size}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_bare(root: str, sources: dict) -> dict:
    import duckdb

    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    t = time.perf_counter()
    total = 0
    for paths in sources.values():
        total += con.execute(
            f"SELECT count(*) FROM read_parquet({paths!r}) d JOIN read_parquet('{root}/roster.parquet') r "
            "ON d.id_number = r.id_number"
        ).fetchone()[0]
    return {"seconds": round(time.perf_counter() - t, 3), "joined_rows": total, "peak_mb": _peak_mb()}


def phase_engine(root: str, sources: dict) -> dict:
    import pyarrow.parquet as pq

    from core.actor import SYSTEM
    from core.bulk import crosscheck
    from core.database import commit, db
    from wsgi import create_app

    app = create_app()
    with app.app_context():
        roster = pq.read_table(f"{root}/roster.parquet")
        t = time.perf_counter()
        from datetime import date

        rows = crosscheck.find_hits(sources, roster, today=date(2026, 12, 1))
        t_join = time.perf_counter() - t
        hits = crosscheck.to_hits(rows, roster)
        for h in hits:  # generated persons are not in the registry
            h.person_id = h.enrollment_id = h.household_id = None
        from core.warnings import services as warnings

        result = warnings.raise_warnings(SYSTEM, hits)
        commit()
        total = time.perf_counter() - t
        stored = db.session.execute(db.text("SELECT count(*) FROM warnings")).scalar()
    return {
        "seconds": round(total, 3),
        "join_seconds": round(t_join, 3),
        "hit_rows": rows.num_rows,
        "warnings": len(hits),
        "created": result.created,
        "stored": stored,
        "peak_mb": _peak_mb(),
    }


def phase_join(root: str, sources: dict) -> dict:
    """The engine's join alone (every rule, Ibis on DuckDB), no database: the 100M figure."""
    from datetime import date

    import pyarrow.parquet as pq

    from core.bulk import crosscheck

    roster = pq.read_table(f"{root}/roster.parquet")
    t = time.perf_counter()
    rows = crosscheck.find_hits(sources, roster, today=date(2026, 12, 1))
    return {"seconds": round(time.perf_counter() - t, 3), "hit_rows": rows.num_rows, "peak_mb": _peak_mb()}


def phase_roster_cache(persons: int) -> dict:
    from core.bulk import roster
    from wsgi import create_app

    app = create_app()
    with app.app_context():
        keys = {i: (__import__("datetime").datetime(2026, 1, 1), f"3601241980{i:08d}") for i in range(persons)}
        t = time.perf_counter()
        roster._write_cache(keys)
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        n = len(roster._read_cache())
        return {"write_seconds": round(write_s, 3), "read_seconds": round(time.perf_counter() - t, 3), "persons": n}


def phase_lookup(root: str, sources: dict, queries: int) -> dict:
    import random

    from core.checks import lookup_copies
    from core.checks import services as checks
    from wsgi import create_app

    app = create_app()
    with app.app_context():
        import duckdb

        con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
        t = time.perf_counter()
        for paths in sources.values():
            for path in paths:
                lookup_copies.copy_for(path, con)
        build = time.perf_counter() - t
        times = []
        for _ in range(queries):
            ids = [f"3601241980{random.randrange(10_000_000):08d}" for _ in range(3)]
            t = time.perf_counter()
            checks.lookup(sources, ids)
            times.append(time.perf_counter() - t)
    times.sort()
    return {
        "queries": queries,
        "copies_seconds": round(build, 1),
        "p50": round(times[len(times) // 2], 3),
        "p95": round(times[max(int(len(times) * 0.95) - 1, 0)], 3),
    }


def _sub(phase: str, args: argparse.Namespace, sources: dict) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--root",
            args.root,
            "--persons",
            str(args.persons),
            "--queries",
            str(args.queries),
            "--sources",
            json.dumps(sources),
        ],
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--persons", type=int, default=1_000_000)
    p.add_argument("--root", default="/tmp/rl-bench-checks/data")
    p.add_argument("--queries", type=int, default=20)
    p.add_argument("--phase")
    p.add_argument("--sources")
    p.add_argument("--skip-warnings", action="store_true", help="the 100M run: the engine's join only")
    p.add_argument("--skip-lookup", action="store_true")
    args = p.parse_args()
    if args.phase:
        sources = json.loads(args.sources)
        fn = {
            "bare": lambda: phase_bare(args.root, sources),
            "engine": lambda: phase_engine(args.root, sources),
            "cache": lambda: phase_roster_cache(args.persons),
            "join": lambda: phase_join(args.root, sources),
            "lookup": lambda: phase_lookup(args.root, sources, args.queries),
        }
        print(json.dumps(fn[args.phase]()))
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("bench/crosscheck.py needs DATABASE_URL on PostgreSQL")
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(url)
    import shutil

    shutil.rmtree("/tmp/rl-bench-checks", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env=env(), check=True, capture_output=True
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "load"], env=env(), check=False, capture_output=True
    )
    gen = generate(args.root, args.records, args.persons)
    print(
        f"generated {args.records:,} records ({gen['bytes'] / 1e6:.0f} MB Parquet) + {args.persons:,} persons in {gen['seconds']} s"
    )
    bare = _sub("bare", args, gen["sources"])
    print(
        f"bare DuckDB join: {bare['seconds']} s, {args.records / bare['seconds'] / 1e6:.1f} M records/s, "
        f"{bare['joined_rows']:,} joined rows, peak {bare['peak_mb']} MB"
    )
    if args.skip_warnings:
        join = _sub("join", args, gen["sources"])
        print(
            f"engine join alone (every rule, Ibis on DuckDB, no warnings): {join['seconds']} s, "
            f"{args.records / join['seconds'] / 1e6:.1f} M records/s, {join['hit_rows']:,} hit rows, peak {join['peak_mb']} MB"
        )
    if not args.skip_warnings:
        eng = _sub("engine", args, gen["sources"])
        print(
            f"end to end (Ibis/DuckDB rules → warnings in PostgreSQL): {eng['seconds']} s "
            f"(join {eng['join_seconds']} s), {args.records / eng['seconds'] / 1e6:.1f} M records/s, "
            f"overhead {100 * (eng['seconds'] / bare['seconds'] - 1):.0f} % over the bare join; "
            f"{eng['hit_rows']:,} hit rows → {eng['warnings']:,} warnings ({eng['stored']:,} stored), peak {eng['peak_mb']} MB"
        )
        again = _sub("engine", args, gen["sources"])
        print(
            f"second run over the same files (no new warning): {again['seconds']} s, "
            f"{args.records / again['seconds'] / 1e6:.1f} M records/s, created {again['created']}, peak {again['peak_mb']} MB"
        )
        cache = _sub("cache", args, gen["sources"])
        print(
            f"roster key cache ({cache['persons']:,} persons, encrypted): write {cache['write_seconds']} s, read {cache['read_seconds']} s"
        )
    if args.skip_lookup:
        return
    look = _sub("lookup", args, gen["sources"])
    print(
        f"per-application look-up (3 members × {args.records:,} rows, sorted copies built once in "
        f"{look['copies_seconds']} s): p50 {look['p50']} s, p95 {look['p95']} s over {look['queries']} look-ups"
    )


if __name__ == "__main__":
    main()
