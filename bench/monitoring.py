# ruff: noqa: E501 - the generator is SQL text built from constants
"""Monitoring benchmark (issue 18): figures, not a timed test.

Generates (DuckDB, once per ``--dir``) a roster of ``--persons`` (default 3,610,000: the Jiangxi
low-income database) in households, and ``--records`` (default 5,000,000) department records across 10
categories in the store's Parquet layout, with some persons meant to hit each rule. Then, each in its own
process (peak RSS per process, ``os.wait4``):

- **full**: every default rule over the whole roster (core.monitoring.engine.evaluate with evidence rows)
  and the grouping into warning hits per person × scenario (evaluation.to_warning_hits);
- **incremental**: a new 100,000-row medical-costs load: its persons and their households are taken from
  the roster, then the rules that read the category are evaluated, as ``evaluation.run_load`` does.

Storing the warnings in PostgreSQL (core.warnings.raise_warnings) is not part of these figures.

    .venv/bin/python bench/monitoring.py [--persons N] [--records N] [--threads 2] [--dir /tmp/bench-monitoring]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 11, 30)
# rows per category (sum 5,000,000 at the default size); scaled with --records
SHARES = {
    "medical_costs": 0.24,
    "wages": 0.28,
    "pensions": 0.12,
    "disability_certificates": 0.10,
    "education_costs": 0.06,
    "business_registration": 0.06,
    "imprisonment": 0.04,
    "community_corrections": 0.04,
    "unemployment": 0.04,
    "deaths": 0.02,
}


def _roster_sql(n: int) -> str:
    # ID numbers: a 6-digit area, the birth date, 4 digits; unique per i. Households of 3 (rank 0-2), and
    # every 20th person alone. Birth dates spread 1930-2024 so there are children, adults and the old.
    return f"""
        SELECT i,
               printf('%06d', 360000 + (i // 10000)) || strftime(DATE '1930-01-01' + CAST(hash(i) % 34500 AS INTEGER),
                   '%Y%m%d') || printf('%04d', i % 10000) AS id_number,
               CASE WHEN i % 20 = 19 THEN 's' || i ELSE 'h' || (i // 3) END AS household_key,
               CASE WHEN i % 20 = 19 THEN 0 ELSE i % 3 END AS rank,
               CAST(360124100 + (i // 3) % 20 AS VARCHAR) AS township_code,
               '360124' AS county_code,
               '测试' || (i % 1000) AS name,
               i AS person_id
        FROM range({n}) t(i)
    """


def generate(directory: Path, persons: int, records: int) -> None:
    import duckdb

    marker = directory / f"done-{persons}-{records}"
    if marker.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "temp_directory": str(directory / "tmp")})
    con.execute(f"CREATE TABLE r AS {_roster_sql(persons)}")
    con.execute(f"COPY r TO '{directory}/roster.parquet' (FORMAT parquet)")
    n = persons
    d = f"DATE '{AS_OF.isoformat()}'"

    def copy(code: str, rows: int, select: str, person: str = "k") -> None:
        out = directory / code / "load=1"
        out.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"""COPY (SELECT r.id_number, x.* EXCLUDE (pick, k), 1::BIGINT AS load_id, row_number() OVER () AS row_no
                      FROM (SELECT k, hash(({person}) * 31 + {len(code)}) % {n} AS pick, {select} FROM range({rows}) t(k)) x
                      JOIN r ON r.i = x.pick)
                TO '{out}/part-0.parquet' (FORMAT parquet)"""
        )

    rows = {code: max(1, int(records * share)) for code, share in SHARES.items()}
    copy(
        "medical_costs",
        rows["medical_costs"],
        f"{d} - CAST(k % 700 AS INTEGER) AS effective_date, {d} - CAST(k % 700 AS INTEGER) AS settled_on, "
        "'某医院' AS hospital, CAST((hash(k) % 20000) + CASE WHEN k % 997 = 0 THEN 60000 ELSE 0 END AS DOUBLE) AS total_cost, "
        "CAST((hash(k) % 3000) + CASE WHEN k % 997 = 0 THEN 30000 ELSE 0 END AS DOUBLE) AS out_of_pocket",
    )
    # wages: k // 12 persons × 12 months; every 50th person's last quarter falls to a fifth
    copy(
        "wages",
        rows["wages"],
        f"date_trunc('month', {d} - INTERVAL (k % 12) MONTH)::DATE AS effective_date, '某单位' AS employer, "
        f"date_trunc('month', {d} - INTERVAL (k % 12) MONTH)::DATE AS month, "
        "CAST(CASE WHEN (k // 12) % 50 = 0 AND k % 12 < 3 THEN 600 ELSE 3000 END AS DOUBLE) AS amount",
        person="k // 12",
    )
    copy(
        "pensions",
        rows["pensions"],
        f"date_trunc('month', {d} - INTERVAL (k % 12) MONTH)::DATE AS effective_date, "
        f"date_trunc('month', {d} - INTERVAL (k % 12) MONTH)::DATE AS month, 1500.0 AS amount, "
        "'urban_rural' AS pension_type",
        person="k // 12",
    )
    copy(
        "disability_certificates",
        rows["disability_certificates"],
        f"{d} - CAST(k % 1500 AS INTEGER) AS effective_date, 'C' || k AS certificate_no, 'physical' AS disability_type, "
        f"CAST(1 + k % 4 AS VARCHAR) AS grade, {d} - CAST(k % 1500 AS INTEGER) AS issued_on",
    )
    copy(
        "education_costs",
        rows["education_costs"],
        f"{d} - CAST(k % 365 AS INTEGER) AS effective_date, '某学校' AS school, {d} - CAST(k % 365 AS INTEGER) AS term_start, "
        "CAST(2000 + hash(k) % 5000 AS DOUBLE) AS tuition, 1200.0 AS accommodation",
    )
    copy(
        "business_registration",
        rows["business_registration"],
        f"{d} - CAST(k % 3000 AS INTEGER) AS effective_date, '某商行' || k AS enterprise_name, NULL::VARCHAR AS credit_code, "
        "CASE WHEN k % 3 = 0 THEN 'owner' ELSE 'shareholder' END AS role, 10.0 AS registered_capital, "
        f"{d} - CAST(k % 3000 AS INTEGER) AS established_on, CASE WHEN k % 7 = 0 THEN 'cancelled' ELSE 'active' END AS status",
    )
    copy(
        "imprisonment",
        rows["imprisonment"],
        f"{d} - CAST(k % 2000 AS INTEGER) AS effective_date, CASE WHEN k % 4 = 0 THEN 'released' ELSE 'serving' END AS status, "
        f"{d} - CAST(k % 2000 AS INTEGER) AS start_date, CASE WHEN k % 4 = 0 THEN {d} - CAST(k % 1500 AS INTEGER) END AS end_date, "
        "'某监狱' AS facility",
    )
    copy(
        "community_corrections",
        rows["community_corrections"],
        f"{d} - CAST(k % 3000 AS INTEGER) AS effective_date, 'probation' AS correction_type, "
        f"{d} - CAST(k % 3000 AS INTEGER) AS start_date, {d} + CAST(k % 400 AS INTEGER) - 100 AS end_date",
    )
    copy(
        "unemployment",
        rows["unemployment"],
        f"{d} - CAST(k % 1500 AS INTEGER) AS effective_date, {d} - CAST(k % 1500 AS INTEGER) AS registered_on, "
        "CASE WHEN k % 2 = 0 THEN 'registered' ELSE 'ended' END AS status, 1380.0 AS benefit_amount",
    )
    copy(
        "deaths",
        rows["deaths"],
        f"{d} - CAST(k % 3000 AS INTEGER) AS effective_date, {d} - CAST(k % 3000 AS INTEGER) AS death_date, "
        "'某地' AS place",
    )
    # the new load for the incremental run: 100,000 medical-cost rows of this month
    out = directory / "incremental" / "medical_costs" / "load=2"
    out.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""COPY (SELECT r.id_number, {d} - CAST(k % 20 AS INTEGER) AS effective_date, 'X' AS hospital,
                         {d} - CAST(k % 20 AS INTEGER) AS settled_on, CAST(CASE WHEN k % 200 = 0 THEN 80000 ELSE 4000 END AS DOUBLE) AS total_cost,
                         CAST(CASE WHEN k % 100 = 0 THEN 35000 ELSE hash(k) % 3000 END AS DOUBLE) AS out_of_pocket, 2::BIGINT AS load_id,
                         k + 1 AS row_no
                  FROM range(100000) t(k) JOIN r ON r.i = hash(k * 7 + 3) % {n})
            TO '{out}/part-0.parquet' (FORMAT parquet)"""
    )
    con.close()
    marker.touch()


def _data(directory: Path) -> dict[str, list[str]]:
    return {code: [str(p) for p in sorted((directory / code).glob("load=*/part-*.parquet"))] for code in SHARES}


def _warm_up(directory: Path, threads: int) -> None:
    """A bulk worker is long-lived: Ibis' lazy imports and first compilation are not part of a run."""
    import pyarrow as pa

    from core.monitoring import engine, rules

    con = engine.connect(threads=threads, memory_limit="256MB")
    empty = pa.table(
        {
            "id_number": pa.array([], pa.string()),
            "household_key": pa.array([], pa.string()),
            "rank": pa.array([], pa.int64()),
        }
    )
    engine.evaluate(con, empty, {}, rules.default_rules(), AS_OF)
    con.disconnect()


def run_full(directory: Path, threads: int) -> dict:
    from core.monitoring import engine, evaluation, rules

    _warm_up(directory, threads)
    con = engine.connect(threads=threads, memory_limit="1536MB", temp_directory=str(directory / "spill"))
    default = rules.default_rules()
    started = time.perf_counter()
    hits = engine.evaluate(con, [str(directory / "roster.parquet")], _data(directory), default, AS_OF)
    evaluated = time.perf_counter() - started
    warnings = evaluation.to_warning_hits(hits, {r["code"]: r for r in default}, AS_OF)
    total = time.perf_counter() - started
    per_rule: dict[str, int] = {}
    for h in hits:
        per_rule[h.rule] = per_rule.get(h.rule, 0) + 1
    return {
        "seconds": round(total, 2),
        "engine_seconds": round(evaluated, 2),
        "rule_hits": len(hits),
        "warning_hits": len(warnings),
        "per_rule": per_rule,
    }


def run_incremental(directory: Path, threads: int) -> dict:
    import duckdb
    import pyarrow as pa

    from core.monitoring import engine, evaluation, rules

    _warm_up(directory, threads)
    started = time.perf_counter()
    new = [str(p) for p in (directory / "incremental" / "medical_costs").glob("load=*/part-*.parquet")]
    con = duckdb.connect(config={"threads": threads, "memory_limit": "1GB"})
    # the persons the load touched and everyone in their households (run_load asks PostgreSQL for these
    # by blind index; here the roster file plays the roster table)
    members: pa.Table = con.sql(
        """WITH touched AS (SELECT DISTINCT id_number FROM read_parquet(?)),
                hh AS (SELECT DISTINCT r.household_key FROM read_parquet(?) r JOIN touched USING (id_number))
           SELECT r.* EXCLUDE (i) FROM read_parquet(?) r JOIN hh USING (household_key)""",
        params=[new, str(directory / "roster.parquet"), str(directory / "roster.parquet")],
    ).to_arrow_table()
    selected = time.perf_counter() - started
    data = _data(directory)
    data["medical_costs"] = data["medical_costs"] + new
    chosen = [r for r in rules.default_rules() if evaluation._relevant(r, {"medical_costs"})]
    icon = engine.connect(threads=threads, memory_limit="1536MB", temp_directory=str(directory / "spill"))
    hits = engine.evaluate(icon, members, data, chosen, AS_OF)

    warnings = evaluation.to_warning_hits(hits, {r["code"]: r for r in chosen}, AS_OF)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "select_seconds": round(selected, 2),
        "persons": members.num_rows,
        "rules": [r["code"] for r in chosen],
        "rule_hits": len(hits),
        "warning_hits": len(warnings),
    }


def _child(mode: str, directory: Path, threads: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, "--dir", str(directory), "--threads", str(threads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{mode} failed")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = round(usage.ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=3_610_000)
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-monitoring"))
    parser.add_argument("--child", choices=("full", "incremental"))
    parser.add_argument("--skip-full", action="store_true", help="Only the incremental run.")
    args = parser.parse_args()
    os.environ.setdefault("APP_ENV", "testing")
    if args.child:
        result = (run_full if args.child == "full" else run_incremental)(args.dir, args.threads)
        print(json.dumps(result, ensure_ascii=False))
        return
    started = time.perf_counter()
    generate(args.dir, args.persons, args.records)
    print(
        f"data: {args.persons:,} persons, {args.records:,} records in {len(SHARES)} categories "
        f"(generated in {time.perf_counter() - started:.1f} s, {args.dir})"
    )
    full = None if args.skip_full else _child("full", args.dir, args.threads)
    if full:
        print(
            f"full evaluation, {len(full['per_rule'])} rules hit, {args.threads} threads: {full['seconds']} s "
            f"(engine {full['engine_seconds']} s), {full['rule_hits']:,} rule hits → {full['warning_hits']:,} "
            f"warnings (person × scenario), peak {full['peak_mb']} MB"
        )
        print("  hits per rule: " + ", ".join(f"{k} {v:,}" for k, v in sorted(full["per_rule"].items())))
    inc = _child("incremental", args.dir, args.threads)
    print(
        f"incremental after a 100,000-row medical-costs load: {inc['seconds']} s (selecting "
        f"{inc['persons']:,} persons {inc['select_seconds']} s), rules {', '.join(inc['rules'])}: "
        f"{inc['rule_hits']:,} rule hits → {inc['warning_hits']:,} warnings, peak {inc['peak_mb']} MB"
    )
    print("targets: full ≤ 60 s, incremental ≤ 5 s, ≤ 2 GB")


if __name__ == "__main__":
    main()
