"""Other ways in: XLSX and Parquet files, malformed CSV lines (row numbers stay right), the CLI with
progress; snapshot vs increment in ``current_paths``; schema versions; a batch id raced on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from core.actor import SYSTEM
from core.database import commit, db
from core.errors import ValidationFailed
from core.exchange import catalogue, ingest, store
from core.exchange.catalogue import DataLoad
from core.idnumber import make_id_number
from tests.exchange import factory


def nid(i: int) -> str:
    return make_id_number("360124", date(1960, 1, 1), i)


@pytest.fixture
def dept(ctx):
    return factory.department()


def run(path: str, name: str, dept, category: str = "deaths", batch: str | None = None) -> DataLoad:
    load = ingest.start_file_load(
        SYSTEM, category=category, path=path, filename=name, department_id=dept.id, client_id=None, batch_id=batch
    )
    commit()
    db.session.refresh(load)
    return load


def test_xlsx_with_dates_and_numbers(dept, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["身份证号", "姓名", "死亡日期", "死亡地点"])
    sheet.append([nid(1), "张三", datetime(2026, 3, 1), "进贤县"])
    sheet.append([nid(2), "李四", "2026年3月2日", None])
    sheet.append([None, None, None, None])  # an empty row is skipped
    sheet.append([360124196001010000, "王五", datetime(2026, 3, 3), "进贤县"])  # a number: digits lost → rejected
    path = tmp_path / "deaths.xlsx"
    book.save(path)
    load = run(str(path), "deaths.xlsx", dept)
    assert load.status == "completed", load.message
    assert (load.rows_total, load.rows_accepted, load.rows_rejected) == (3, 2, 1)
    assert load.max_effective_date == date(2026, 3, 2)


def test_parquet_file(dept, tmp_path):
    path = tmp_path / "deaths.parquet"
    pq.write_table(pa.table({"id_number": [nid(1), "bad"], "death_date": ["2026-03-01", "2026-03-02"]}), path)
    load = run(str(path), "deaths.parquet", dept)
    assert (load.rows_accepted, load.rows_rejected) == (1, 1)
    con = duckdb.connect()
    assert con.execute("SELECT row_no FROM read_parquet(?)", [load.error_report_key]).fetchall() == [(2,)]


def test_malformed_lines_are_listed_and_row_numbers_stay_right(dept):
    data = (
        "身份证号,姓名,死亡日期\n"
        f"{nid(1)},张三,2026-03-01\n"
        f"{nid(2)},李四,2026-03-01,多余的列\n"
        f"{nid(3)},王五,2026-03-01\n"
        f"{nid(4)},赵六\n"
        f"{nid(5)},钱七,2026-03-01\n"
    ).encode()
    load = run(factory.temp_file(data), "x.csv", dept)
    assert load.status == "completed", load.message
    assert (load.rows_total, load.rows_accepted, load.rows_rejected) == (5, 3, 2)
    con = duckdb.connect()
    stored = con.execute(
        "SELECT row_no, id_number FROM read_parquet(?) ORDER BY row_no", [store.load_files(load.storage_path)]
    ).fetchall()
    assert stored == [(2, nid(1)), (4, nid(3)), (6, nid(5))]
    errors = con.execute(
        "SELECT row_no, reason_code FROM read_parquet(?) ORDER BY row_no", [load.error_report_key]
    ).fetchall()
    assert errors == [(3, "malformed"), (5, "malformed")]


def test_snapshot_replaces_and_increment_appends(dept):
    other = factory.department("jx-gongan-2", region="360124")
    snap1 = run(
        factory.temp_file(f"身份证号,状态,起始日期\n{nid(1)},服刑,2025-01-01\n".encode()), "a.csv", dept, "imprisonment"
    )
    snap_other = run(
        factory.temp_file(f"身份证号,状态,起始日期\n{nid(3)},羁押,2025-01-01\n".encode()),
        "c.csv",
        other,
        "imprisonment",
    )
    snap2 = run(
        factory.temp_file(f"身份证号,状态,起始日期\n{nid(2)},服刑,2025-02-01\n".encode()), "b.csv", dept, "imprisonment"
    )
    paths = store.current_paths("imprisonment")
    assert set(paths) == set(store.load_files(snap2.storage_path) + store.load_files(snap_other.storage_path))
    assert not set(store.load_files(snap1.storage_path)) & set(paths)
    inc1 = run(factory.temp_file(f"身份证号,死亡日期\n{nid(1)},2026-03-01\n".encode()), "a.csv", dept)
    inc2 = run(factory.temp_file(f"身份证号,死亡日期\n{nid(2)},2026-03-02\n".encode()), "b.csv", dept)
    assert set(store.current_paths("deaths")) == set(
        store.load_files(inc1.storage_path) + store.load_files(inc2.storage_path)
    )
    con = store.connect()
    rel = store.relation(con, "imprisonment")
    assert sorted(r[0] for r in rel.select("id_number").fetchall()) == sorted([nid(2), nid(3)])
    empty = store.relation(con, "vehicles")  # nothing loaded: an empty relation with the schema's columns
    assert empty.fetchall() == [] and {"id_number", "effective_date", "load_id", "row_no", "plate_no"} <= set(
        empty.columns
    )
    fresh = catalogue.freshness(catalogue.get_category("deaths"))
    assert fresh.latest_effective_date == date(2026, 3, 2) and fresh.loads == 2


def test_schema_versions(dept):
    admin = factory.officer("sysadmin", "system_admin", None)
    with pytest.raises(ValidationFailed):
        catalogue.add_schema_version(
            admin,
            "deaths",
            columns=[{"key": "id_number", "label": "身份证号"}],
            id_column="id_number",
            date_column="death_date",
        )
    row = catalogue.add_schema_version(
        admin,
        "deaths",
        columns=[
            {"key": "id_number", "label": "身份证号", "required": True},
            {"key": "death_date", "label": "死亡日期", "type": "date", "required": True},
            {"key": "cause", "label": "死亡原因", "codes": {"disease": "疾病", "accident": "意外"}},
        ],
        id_column="id_number",
        date_column="death_date",
    )
    assert row.version == 2 and catalogue.get_category("deaths").current_version == 2
    load = run(factory.temp_file(f"身份证号,死亡日期,死亡原因\n{nid(1)},2026-03-01,意外\n".encode()), "a.csv", dept)
    assert load.schema_version == 2
    con = duckdb.connect()
    assert con.execute("SELECT cause FROM read_parquet(?)", [store.load_files(load.storage_path)]).fetchall() == [
        ("accident",)
    ]


def test_cli_load_with_progress(app, tmp_path):
    with app.app_context():
        factory.department("cli-gongan")
        commit()
    path = tmp_path / "deaths.csv"
    path.write_bytes(f"身份证号码,死亡日期\r\n{nid(1)},2026年3月1日\n{nid(1)}X,2026-03-01\n".encode("gbk"))
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "exchange",
            "load",
            str(path),
            "--category",
            "deaths",
            "--department",
            "cli-gongan",
            "--batch-id",
            "cli-1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "入库 1" in result.output and "拒收 1" in result.output and "100%" in result.output
    assert path.exists()  # the CLI copies; the source file stays
    again = runner.invoke(
        args=[
            "exchange",
            "load",
            str(path),
            "--category",
            "deaths",
            "--department",
            "cli-gongan",
            "--batch-id",
            "cli-1",
        ]
    )
    assert again.exit_code == 0 and "批次 1" in again.output
    listing = runner.invoke(args=["exchange", "catalogue"])
    assert "deaths" in listing.output and "2026-03-01" in listing.output
    assert runner.invoke(args=["exchange", "purge"]).exit_code == 0


@pytest.mark.postgres
def test_the_same_batch_pushed_twice_at_once_is_stored_once(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("concurrency on PostgreSQL (the suite runs on SQLite)")
        dept = factory.department()
        cl = factory.client(dept, ["deaths"])
        actor = factory.department_actor(cl, dept)
        ids = (dept.id, cl.id)
        commit()
        db.session.remove()
    rows = [{"id_number": nid(i), "death_date": "2026-03-01"} for i in range(1, 200)]
    results: list = []
    barrier = threading.Barrier(2)

    def push() -> None:
        with app.app_context():
            barrier.wait()
            try:
                load = ingest.ingest_rows(
                    actor, category="deaths", rows=rows, batch_id="same", department_id=ids[0], client_id=ids[1]
                )
                commit()
                results.append(load.id)
            except Exception as err:  # noqa: BLE001
                db.session.rollback()
                results.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        loads = db.session.scalars(select(DataLoad)).all()
        assert len(loads) == 1
        assert all(r == loads[0].id or getattr(r, "status", None) == 409 for r in results), results
