"""Registry benchmark (issue 11): figures, not a timed test.

With ``--persons`` persons (default 1,000,000) and ``--enrollments`` active enrollments (default 400,000,
10,000 per county over 40 counties) in PostgreSQL, prints:

- registry search by last four + name prefix through ``core.registry.officer.list_enrollments`` (a county
  officer's scope: the page and its count), p50/p95 over ``--queries`` random queries, next to the same
  query written by hand on psycopg (the baseline);
- name-prefix search (two characters) the same way, with the query plans (``EXPLAIN ANALYZE``);
- the import of ``--import-members`` members (default 100,000) from a generated CSV through the CLI
  (``flask registry import``): time and rows/s, then the same file again (nothing new);
- if ``core.registry.rolls.draft_roll`` exists: drafting one county's roll (10,000 enrollments).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/rl_bench .venv/bin/python bench/registry.py

The database named by DATABASE_URL is DROPPED and re-created (ICU Chinese collation when the server has
it, so that name prefixes need ``ix_persons_name_pattern``); ``--reuse`` keeps the data of an earlier run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTIES = 40
TOWNSHIPS_PER_COUNTY = 10
MAIN_COUNTY = "369901"  # the county whose officer searches and whose roll is drafted
IMPORT_COUNTY = "369999"


def _url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("bench/registry.py needs DATABASE_URL on PostgreSQL (postgresql+psycopg://…)")
    return url


def env() -> dict:
    return {**os.environ, "APP_ENV": "development", "LOG_LEVEL": "WARNING", "STORAGE_DIR": "/tmp/rl-bench-storage"}


def _psycopg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def recreate(url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        try:
            conn.execute(
                text(
                    f'CREATE DATABASE "{parsed.database}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    "ICU_LOCALE 'zh-Hans-CN' LOCALE 'C.UTF-8'"
                )
            )
            collation = "ICU zh-Hans-CN"
        except Exception:  # noqa: BLE001 - an older server or no ICU: the default collation
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
            collation = "server default"
    admin.dispose()
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env(), check=True, capture_output=True)
    return collation


def _regions() -> list[tuple[str, str, str, str | None]]:
    rows: list[tuple[str, str, str, str | None]] = [
        ("36", "江西省", "province", None),
        ("3699", "基准市", "city", "36"),
    ]
    for c in range(1, COUNTIES + 1):
        county = f"3699{c:02d}"
        rows.append((county, f"基准{c}县", "county", "3699"))
        rows += [(f"{county}{100 + t}", f"基准{c}县{t + 1}镇", "township", county) for t in range(TOWNSHIPS_PER_COUNTY)]
    rows.append((IMPORT_COUNTY, "导入县", "county", "3699"))
    rows += [(f"{IMPORT_COUNTY}{100 + t}", f"导入县{t + 1}镇", "township", IMPORT_COUNTY) for t in range(10)]
    return rows


def generate(url: str, persons: int, enrollments: int) -> None:
    """Persons, households, enrollments and their members by COPY (keyed indexes computed here)."""
    import psycopg

    from core import crypto, pii
    from core.registry import synthetic
    from wsgi import create_app

    app = create_app()  # configures core.crypto with the app's keys (blind indexes must match the app's)
    del app
    rng = random.Random(11)
    people = synthetic.People("369901", rng)
    today = date(2026, 12, 1)
    started = time.perf_counter()
    per_county = persons // COUNTIES
    enc_sample = crypto.encrypt("000000000000000000")
    with psycopg.connect(_psycopg_dsn(url)) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY regions (code, name, level, parent_code) FROM STDIN") as copy:
                for row in _regions():
                    copy.write_row(row)
            print(f"  regions: {len(_regions())} rows")
            numbers: list[str] = []
            with cur.copy(
                "COPY persons (id, id_number_enc, id_number_bidx, id_number_l4, name, gender, birth_date,"
                " residence_township_code, county_code, created_at, updated_at) FROM STDIN"
            ) as copy:
                now = "2026-12-01 00:00:00+00"
                for i in range(persons):
                    county = f"3699{i // per_county % COUNTIES + 1:02d}"
                    people.prefix6 = county
                    male = rng.random() < 0.5
                    born = today - timedelta(days=rng.randrange(0, 90 * 365))
                    number = people.id_number(born, male)
                    numbers.append(number)
                    township = f"{county}{100 + i % TOWNSHIPS_PER_COUNTY}"
                    # every 20th person carries a real token (the rest share one: the search never decrypts)
                    enc = pii.encrypt_id(number) if i % 20 == 0 else enc_sample
                    copy.write_row(
                        (
                            i + 1,
                            enc,
                            pii.blind_index(number),
                            pii.last4_index(number),
                            people.surname() + people.given(male),
                            "M" if male else "F",
                            born,
                            township,
                            county,
                            now,
                            now,
                        )
                    )
                    if (i + 1) % 200_000 == 0:
                        print(f"  persons: {i + 1:,} ({time.perf_counter() - started:.0f} s)")
            per_county_e = enrollments // COUNTIES
            # enrollment k (1-based) pays person k' = the first per_county_e persons of each county
            heads = [c * per_county + j for c in range(COUNTIES) for j in range(per_county_e)]
            with cur.copy(
                "COPY registry_households (id, head_person_id, residence_township_code, county_code, source_type,"
                " source_id, created_at, updated_at) FROM STDIN"
            ) as copy:
                for k, p in enumerate(heads, start=1):
                    county = f"3699{p // per_county % COUNTIES + 1:02d}"
                    copy.write_row(
                        (k, p + 1, f"{county}{100 + p % TOWNSHIPS_PER_COUNTY}", county, "bench", str(k), now, now)
                    )
            cur.execute("SELECT name FROM persons ORDER BY id")
            names = [r[0] for r in cur.fetchall()]
            with cur.copy(
                "COPY enrollments (id, reference, decision_ref, program, household_id, person_id, status,"
                " monthly_amount, member_count, start_month, next_review_date, township_code, county_code,"
                " payee_name, created_at, updated_at, version) FROM STDIN"
            ) as copy:
                for k, p in enumerate(heads, start=1):
                    county = f"3699{p // per_county % COUNTIES + 1:02d}"
                    program = "tekun" if k % 10 == 0 else "dibao"
                    month = f"{2021 + k % 6}-{1 + k % 12:02d}"
                    copy.write_row(
                        (
                            k,
                            f"BZ20261201{k:08X}",
                            f"bench:{k}",
                            program,
                            k,
                            p + 1,
                            "active",
                            f"{300 + k % 1500}.00",
                            1 + k % 4,
                            month,
                            "2027-03-01",
                            f"{county}{100 + p % TOWNSHIPS_PER_COUNTY}",
                            county,
                            names[p],
                            now,
                            now,
                            1,
                        )
                    )
            with cur.copy("COPY enrollment_members (enrollment_id, person_id, relation) FROM STDIN") as copy:
                for k, p in enumerate(heads, start=1):
                    copy.write_row((k, p + 1, "self"))
            with cur.copy(
                "COPY household_memberships (household_id, person_id, relation, started_on) FROM STDIN"
            ) as copy:
                for k, p in enumerate(heads, start=1):
                    copy.write_row((k, p + 1, "self", today))
            for table in ("persons", "registry_households", "enrollments"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(
        f"generated {persons:,} persons, {len(heads):,} households and active enrollments "
        f"({per_county_e:,} per county, {COUNTIES} counties) in {time.perf_counter() - started:.1f} s"
    )
    del numbers, names


def _stats(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[max(0, int(0.95 * len(times)) - 1)]
    return f"p50 {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   max {times[-1]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--enrollments", type=int, default=400_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--import-members", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    parser.add_argument("--id-prefix", default=IMPORT_COUNTY, help="ID-number prefix of the imported members")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    url = _url()
    os.environ.update(env())
    if not args.reuse:
        print(f"database: {recreate(url)} collation")
        generate(url, args.persons, args.enrollments)

    import psycopg
    from sqlalchemy import select, text

    from core import pii
    from core.actor import Actor
    from core.database import db
    from core.registry import officer, synthetic
    from core.registry.models import Enrollment, Person
    from wsgi import create_app

    app = create_app()
    rng = random.Random(5)
    actor = Actor(kind="officer", id=None, roles=("county_officer",), region_code=MAIN_COUNTY)
    with app.app_context():
        sample = db.session.execute(
            select(Person.name, Person.id_number_enc, Person.id)
            .join(Enrollment, Enrollment.person_id == Person.id)
            .where(Enrollment.county_code == MAIN_COUNTY, Person.id % 20 == 1)
            .limit(2000)
        ).all()
        picks = [rng.choice(sample) for _ in range(args.queries)]
        queries = [(name, pii.decrypt_id(enc)[-4:]) for name, enc, _ in picks]
        db.session.remove()

    def through_service(q: str) -> float:
        t0 = time.perf_counter()
        with app.app_context():
            page = officer.list_enrollments(actor, q=q, page_size=20)
            assert page.total >= 0
            db.session.remove()
        return (time.perf_counter() - t0) * 1000

    baseline_sql = """
        SELECT e.* FROM enrollments e
        WHERE e.township_code LIKE %(scope)s AND e.person_id IN (
            SELECT p.id FROM persons p WHERE p.id_number_l4 = %(l4)s AND p.name LIKE %(name)s)
        ORDER BY e.id DESC LIMIT 20"""
    baseline_count = """
        SELECT count(*) FROM enrollments e
        WHERE e.township_code LIKE %(scope)s AND e.person_id IN (
            SELECT p.id FROM persons p WHERE p.id_number_l4 = %(l4)s AND p.name LIKE %(name)s)"""
    name_sql = baseline_sql.replace("p.id_number_l4 = %(l4)s AND ", "")
    name_count = baseline_count.replace("p.id_number_l4 = %(l4)s AND ", "")
    conn = psycopg.connect(_psycopg_dsn(url))

    def by_hand(sql: str, count: str, params: dict) -> float:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(count, params)
            cur.fetchone()
            cur.execute(sql, params)
            cur.fetchall()
        conn.rollback()
        return (time.perf_counter() - t0) * 1000

    if not args.skip_search:
        print(f"\nsearch in county {MAIN_COUNTY} (a county officer), {args.queries} random queries each, sequential")
        for q in (f"{n[:1]} {l4}" for n, l4 in queries[:10]):
            through_service(q)  # warm-up
        service = [through_service(f"{n[:1]} {l4}") for n, l4 in queries]
        hand = [
            by_hand(
                baseline_sql,
                baseline_count,
                {"scope": f"{MAIN_COUNTY}%", "l4": pii.last4_index(l4), "name": f"{n[:1]}%"},
            )
            for n, l4 in queries
        ]
        print(f"  last four + surname, officer.list_enrollments  {_stats(service)}   (target p95 <= 100 ms)")
        print(f"  last four + surname, by hand on psycopg        {_stats(hand)}")
        service = [through_service(n[:2]) for n, _ in queries]
        hand = [by_hand(name_sql, name_count, {"scope": f"{MAIN_COUNTY}%", "name": f"{n[:2]}%"}) for n, _ in queries]
        print(f"  name prefix (2 characters), list_enrollments   {_stats(service)}")
        print(f"  name prefix (2 characters), by hand            {_stats(hand)}")
        with app.app_context():
            name, l4 = queries[0]
            for label, q in (("last four + surname", f"{name[:1]} {l4}"), ("name prefix", name[:2])):
                stmt = officer._enrollment_filters(actor, q=q).order_by(Enrollment.id.desc()).limit(20)
                compiled = stmt.compile(db.engine)  # bound parameters, as the app sends them
                plan = (
                    db.session.connection()
                    .exec_driver_sql(f"EXPLAIN ANALYZE {compiled.string}", compiled.params)
                    .scalars()
                    .all()
                )
                print(f"-- plan: {label} ({q})\n     " + "\n     ".join(plan))
            plan = (
                db.session.execute(text("EXPLAIN SELECT id FROM persons WHERE name LIKE :p"), {"p": f"{name[:2]}%"})
                .scalars()
                .all()
            )
            print("-- plan: persons by name prefix\n     " + "\n     ".join(plan))
            db.session.remove()
    conn.close()

    # import of generated members through the CLI
    places = [synthetic.Place(f"{IMPORT_COUNTY}{100 + t}", None, urban=False) for t in range(10)]
    rows: list[list[str]] = []
    households = 0
    for row in synthetic.household_rows(
        places, args.import_members, prefix6=args.id_prefix, today=date(2026, 12, 1), seed=99
    ):
        if row[3] == "本人":
            if len(rows) >= args.import_members:
                break
            households += 1
        rows.append(row)
    from core.registry.importer import HEADER_OF

    with tempfile.TemporaryDirectory() as tmp:
        import csv

        path = Path(tmp) / "recipients.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(list(HEADER_OF.values()))
            writer.writerows(rows)
        runner = app.test_cli_runner()
        print(f"\nimport of {len(rows):,} members ({households:,} households) from a CSV, flask registry import")
        for attempt in ("first", "again"):
            t0 = time.perf_counter()
            result = runner.invoke(args=["registry", "import", str(path), "--county", IMPORT_COUNTY])
            elapsed = time.perf_counter() - t0
            assert result.exit_code == 0, result.output[-2000:]
            summary = [
                line for line in result.output.splitlines() if "救助对象" in line or "人员" in line or "家庭" in line
            ]
            print(f"  {attempt}: {elapsed:5.1f} s   {len(rows) / elapsed:8,.0f} rows/s   " + " · ".join(summary))

    try:
        from core.registry.rolls import draft_roll
    except ImportError:
        print("\nroll draft: core.registry.rolls.draft_roll is not importable here (built by another helper): skipped")
        return
    from core.actor import SYSTEM
    from core.database import commit

    with app.app_context():
        timings = []
        for _ in range(3):  # the first draft creates the roll; the next two re-draft it (the beat's refresh)
            t0 = time.perf_counter()
            roll = draft_roll(MAIN_COUNTY, "2027-01", actor=SYSTEM)
            commit()
            timings.append(time.perf_counter() - t0)
        print(
            f"\nroll draft of county {MAIN_COUNTY} (2027-01): {roll.line_count:,} lines, {roll.payable_count:,} paid, "
            f"{roll.total_amount:,.2f} 元 — first {timings[0]:.2f} s, re-drafts {timings[1]:.2f} s / {timings[2]:.2f} s"
            "   (target <= 5 s; bench/registry_rolls.py compares it with a hand-written INSERT … SELECT)"
        )


if __name__ == "__main__":
    main()
