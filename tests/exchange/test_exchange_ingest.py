"""Loads: pushed batches and files, GBK and UTF-8, checked set-based, stored as Parquet, counted."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from core.actor import SYSTEM, Actor
from core.database import commit, db
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.exchange import catalogue, ingest, store
from core.exchange.catalogue import DataLoad
from core.idnumber import check_digit, make_id_number
from tests.exchange import factory


def ids(n: int, start: int = 1) -> list[str]:
    return [make_id_number("360124", date(1950, 1, 1), i) for i in range(start, start + n)]


def rows_of(load: DataLoad) -> list[tuple]:
    con = duckdb.connect()
    files = store.load_files(load.storage_path)
    if not files:
        return []
    return con.execute(
        "SELECT id_number, effective_date, load_id, row_no, name FROM read_parquet(?) ORDER BY row_no", [files]
    ).fetchall()


def errors_of(load: DataLoad) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(
        "SELECT row_no, column_label, reason_code, reason, value FROM read_parquet(?) ORDER BY row_no, reason_code",
        [load.error_report_key],
    ).fetchall()


@pytest.fixture
def dept(ctx):
    return factory.department()


@pytest.fixture
def officer(ctx):
    return factory.officer("jxdata", "data_officer", "360124")


def test_push_batch_is_checked_stored_and_a_retry_is_harmless(dept):
    cl = factory.client(dept, ["deaths"])
    actor = factory.department_actor(cl, dept)
    good = ids(3)
    bad_check = good[0][:17] + ("0" if good[0][17] != "0" else "1")
    rows = [
        {"id_number": good[0], "name": "张三", "death_date": "2026-03-01"},
        {"身份证号": good[1], "姓名": "李四", "死亡日期": "2026/3/2"},
        {"id_number": bad_check, "name": "王五", "death_date": "20260303"},
        {"id_number": good[2], "name": "赵六", "death_date": "2026年3月4日"},
        {"id_number": good[2], "name": "赵六", "death_date": "2026年3月4日"},  # a duplicate of the row above
    ]
    load = ingest.ingest_rows(
        actor, category="deaths", rows=rows, batch_id="b-1", department_id=dept.id, client_id=cl.id
    )
    commit()
    assert (load.status, load.rows_total, load.rows_accepted, load.rows_rejected) == ("completed", 5, 3, 2)
    assert load.rejected_by_reason == {"id_check": 1, "duplicate": 1}
    assert (load.min_effective_date, load.max_effective_date) == (date(2026, 3, 1), date(2026, 3, 4))
    stored = rows_of(load)
    assert [(r[0], r[1], r[3]) for r in stored] == [
        (good[0], date(2026, 3, 1), 1),
        (good[1], date(2026, 3, 2), 2),
        (good[2], date(2026, 3, 4), 4),
    ]
    assert {r[2] for r in stored} == {load.id}
    report = errors_of(load)
    assert report[0][:3] == (3, "身份证号", "id_check") and report[0][4] == bad_check
    assert report[1][:3] == (5, None, "duplicate") and "第4行" in report[1][4]
    # the same batch again: the same load, nothing new
    again = ingest.ingest_rows(
        actor, category="deaths", rows=rows, batch_id="b-1", department_id=dept.id, client_id=cl.id
    )
    assert again.id == load.id
    assert db.session.query(DataLoad).count() == 1
    # the same id with other content: refused
    with pytest.raises(Conflict) as err:
        ingest.ingest_rows(
            actor, category="deaths", rows=rows[:2], batch_id="b-1", department_id=dept.id, client_id=cl.id
        )
    assert "batch_id" in err.value.errors
    assert store.current_paths("deaths") == store.load_files(load.storage_path)
    summary = catalogue.load_summary(load)
    assert summary["rejected_by_reason"] == {"id_check": 1, "duplicate": 1} and summary["category"] == "deaths"


def test_push_limits_and_scope(dept):
    cl = factory.client(dept, ["deaths"])
    actor = factory.department_actor(cl, dept)
    with pytest.raises(PermissionDenied):  # not granted this category
        ingest.ingest_rows(
            actor,
            category="pensions",
            rows=[{"id_number": ids(1)[0]}],
            batch_id="x",
            department_id=dept.id,
            client_id=cl.id,
        )
    with pytest.raises(ValidationFailed) as err:
        ingest.ingest_rows(
            actor,
            category="deaths",
            rows=[{"id_number": "1"}] * 10_001,
            batch_id="x",
            department_id=dept.id,
            client_id=cl.id,
        )
    assert "10,000" in err.value.errors["rows"][0]
    with pytest.raises(ValidationFailed):  # nested values are refused
        ingest.ingest_rows(
            actor,
            category="deaths",
            rows=[{"id_number": {"a": [1]}}],
            batch_id="x",
            department_id=dept.id,
            client_id=cl.id,
        )
    with pytest.raises(ValidationFailed) as err:  # a required column missing from the whole batch
        ingest.ingest_rows(
            actor, category="deaths", rows=[{"name": "张三"}], batch_id="x", department_id=dept.id, client_id=cl.id
        )
    assert "死亡日期" in err.value.errors["rows"][0]
    other = factory.department("nc-gongan", region="360121")
    with pytest.raises(PermissionDenied):  # a client pushing for another department
        ingest.ingest_rows(
            actor,
            category="deaths",
            rows=[{"id_number": ids(1)[0]}],
            batch_id="y",
            department_id=other.id,
            client_id=cl.id,
        )


def gbk_file(lines: list[str], *, bom: bytes = b"", endings: tuple[str, ...] = ("\r\n", "\n")) -> str:
    body = b"".join(line.encode("gbk") + endings[i % len(endings)].encode() for i, line in enumerate(lines))
    return factory.temp_file(bom + body)


def test_gbk_file_with_bom_mixed_endings_dates_full_width_and_old_ids(dept, officer):
    OFFICER = officer
    new = ids(4)
    # a 15-digit old number (born 1950-01-01): converted to 18 digits
    old15 = "360124500101001"
    s17 = old15[:6] + "19" + old15[6:]
    converted = s17 + check_digit(s17)
    ends_x = make_id_number("360124", date(1950, 1, 1), 19)
    assert ends_x.endswith("X")
    full_width = new[3].translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    lines = [
        "身份证号码,姓名,死亡日期,死亡地点",
        f"{new[0]},张三,2026-03-01,进贤县",
        f"{new[1]},李四,2026/3/1,进贤县",
        f"{new[2]},王五,20260301,进贤县",
        f"{old15},赵六,2026年3月1日,进贤县",
        f"{full_width},钱七,２０２６年３月１日,进贤县",
        "360124991301011,孙八,2026-03-01,进贤县",  # 15 digits, month 13: cannot be converted
        f"{new[0][:17]}0,周九,2026-13-01,进贤县",  # bad check digit (unless 0 is right) and a bad date
        f"{ends_x[:17]}ｘ, 吴十 ,2026-03-01,进贤县",  # a full-width lower-case x: the same number
        f"{ends_x[:17]}x,郑十一,2026-03-02,进贤县",  # lower-case x
    ]
    path = gbk_file(lines, bom=b"\xef\xbb\xbf")
    load = ingest.start_file_load(
        OFFICER, category="deaths", path=path, filename="死亡.csv", department_id=dept.id, client_id=None, batch_id=None
    )
    commit()  # the bulk task runs in-process after the commit (no broker in tests)
    db.session.refresh(load)
    assert load.status == "completed", load.message
    assert load.rows_total == 9 and load.rows_accepted == 7
    stored = rows_of(load)
    assert [r[0] for r in stored] == [new[0], new[1], new[2], converted, new[3], ends_x, ends_x]
    assert {r[1] for r in stored} == {date(2026, 3, 1), date(2026, 3, 2)}
    assert [r[4] for r in stored] == ["张三", "李四", "王五", "赵六", "钱七", "吴十", "郑十一"]
    assert [r[3] for r in stored] == [2, 3, 4, 5, 6, 9, 10]
    report = errors_of(load)
    reasons = {(r[0], r[2]) for r in report}
    assert (7, "id15_birth") in reasons
    assert (8, "date_format") in reasons
    assert load.source_key is None  # the received file is gone once loaded


def test_utf8_file_and_retried_file_batch(dept):
    cl = factory.client(dept, ["pensions"])
    actor = factory.department_actor(cl, dept)
    n = ids(2)
    data = (
        "身份证号,姓名,发放月份,发放金额,养老保险类型\n"
        f"{n[0]},张三,2026-03,1234.50,城乡居民基本养老保险\n"
        f'{n[1]},李四,2026-03,"1,200",urban_rural\n'
        f"{n[1]},李四,2026-04,abc,未知类型\n"
    ).encode()
    load = ingest.start_file_load(
        actor,
        category="pensions",
        path=factory.temp_file(data),
        filename="p.csv",
        department_id=dept.id,
        client_id=cl.id,
        batch_id="2026-03",
    )
    commit()
    db.session.refresh(load)
    assert (load.rows_accepted, load.rows_rejected) == (2, 1)
    assert load.rejected_by_reason == {"number": 1, "code": 1} or load.rejected_by_reason == {"code": 1, "number": 1}
    con = duckdb.connect()
    got = con.execute(
        "SELECT amount, pension_type FROM read_parquet(?) ORDER BY row_no", [store.current_paths("pensions")]
    ).fetchall()
    assert [(float(a), t) for a, t in got] == [(1234.5, "urban_rural"), (1200.0, "urban_rural")]
    same = ingest.start_file_load(
        actor,
        category="pensions",
        path=factory.temp_file(data),
        filename="p.csv",
        department_id=dept.id,
        client_id=cl.id,
        batch_id="2026-03",
    )
    assert same.id == load.id
    with pytest.raises(Conflict):
        ingest.start_file_load(
            actor,
            category="pensions",
            path=factory.temp_file(data + b"x"),
            filename="p.csv",
            department_id=dept.id,
            client_id=cl.id,
            batch_id="2026-03",
        )


def test_a_file_that_is_not_readable_fails_with_a_reason(dept, officer):
    OFFICER = officer
    path = factory.temp_file(b"\xff\xfe" + "a,b\n".encode("utf-16-le"))
    load = ingest.start_file_load(
        OFFICER, category="deaths", path=path, filename="x.csv", department_id=dept.id, client_id=None, batch_id=None
    )
    commit()
    db.session.refresh(load)
    assert load.status == "failed" and "UTF-16" in load.message
    missing = factory.temp_file("姓名,死亡日期\n张三,2026-03-01\n".encode("gbk"))
    load = ingest.start_file_load(
        OFFICER, category="deaths", path=missing, filename="x.csv", department_id=dept.id, client_id=None, batch_id=None
    )
    commit()
    db.session.refresh(load)
    assert load.status == "failed" and "身份证号" in load.message


def test_officer_uploads_only_for_departments_in_their_region(dept, officer):
    OFFICER = officer
    other = factory.department("nc-gongan", region="360121")
    path = factory.temp_file(b"id_number,death_date\n")
    with pytest.raises(Exception) as err:
        ingest.start_file_load(
            OFFICER,
            category="deaths",
            path=path,
            filename="x.csv",
            department_id=other.id,
            client_id=None,
            batch_id=None,
        )
    assert err.value.status == 404
    township = Actor("officer", 2, ("township_officer",), "360124100")
    with pytest.raises(PermissionDenied):
        ingest.start_file_load(
            township,
            category="deaths",
            path=path,
            filename="x.csv",
            department_id=dept.id,
            client_id=None,
            batch_id=None,
        )
    assert SYSTEM.kind == "system"


def test_a_large_file_streams_with_a_low_duckdb_memory_limit(dept, officer, tmp_path):
    """200,000 GBK rows (≈ 12 MB) written and read in chunks, checked under a 64 MB DuckDB limit (it spills)."""
    import resource

    path = tmp_path / "big.csv"
    from datetime import timedelta

    numbers = [make_id_number("360124", date(1950, 1, 1) + timedelta(days=i), 1) for i in range(2000)]
    with open(path, "wb") as fh:
        fh.write("身份证号,姓名,死亡日期\r\n".encode("gbk"))
        for block in range(100):
            lines = "".join(f"{numbers[i]},张三{block},2026-03-{1 + block % 28:02d}\n" for i in range(2000))
            fh.write(lines.encode("gbk"))
    saved = store.settings().memory_limit
    store.settings().memory_limit = "64MB"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load = ingest.start_file_load(
            officer,
            category="deaths",
            path=str(path),
            filename="big.csv",
            department_id=dept.id,
            client_id=None,
            batch_id=None,
        )
        commit()
    finally:
        store.settings().memory_limit = saved
    db.session.refresh(load)
    assert load.status == "completed", load.message
    assert (load.rows_total, load.rows_accepted) == (200_000, 200_000)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 400, grown_mib
