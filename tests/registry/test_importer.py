"""`flask registry import`: a county's existing recipients in, all rows or none, errors by row and column."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from core import crypto
from core.database import db
from core.registry.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentMember,
    Household,
    HouseholdMembership,
    Person,
    PersonFact,
)
from tests.helpers import id_number
from tests.registry.factory import make_enrollment

HEADER = [
    "户编号",
    "姓名",
    "身份证号",
    "与户主关系",
    "救助项目",
    "月发放金额（元）",
    "起始月份",
    "乡镇（街道）",
    "村（社区）",
    "开户银行",
    "银行账号",
]
HEAD = id_number(date(1965, 3, 4), 101)
SPOUSE = id_number(date(1967, 7, 8), 102)
CHILD = id_number(date(2005, 9, 10), 103)
ALONE = id_number(date(1941, 2, 3), 104)


def _rows() -> list[list[str]]:
    return [
        [
            "A1",
            "刘建国",
            HEAD,
            "本人",
            "低保",
            "1250.00",
            "2024-03",
            "民和镇",
            "岚湖社区居委会",
            "中国农业银行",
            "6228480012345678901",
        ],
        ["A1", "陈美兰", SPOUSE, "配偶", "", "", "", "", "", "", ""],
        ["A1", "刘小雨", CHILD, "子女", "", "", "", "", "", "", ""],
        [
            "B2",
            "赵德福",
            ALONE,
            "本人",
            "特困人员救助供养",
            "1180",
            "2023年7月",
            "360124101",
            "",
            "农商银行",
            "6230001234567890",
        ],
    ]


def _xlsx(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["registry", *args])


def _counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (
                Person,
                PersonFact,
                Household,
                HouseholdMembership,
                Enrollment,
                EnrollmentMember,
                EnrollmentEvent,
            )
        }
        db.session.remove()
        return counts


def test_xlsx_import_creates_persons_households_enrollments_like_create(app, tmp_path):
    result = _run(app, "import", str(_xlsx(tmp_path / "list.xlsx", _rows())), "--county", "360124")
    assert result.exit_code == 0, result.output
    assert "新增家庭 2 户" in result.output and "新增人员 4 人" in result.output
    assert "新增救助对象 2 个，月发放合计 2430.00 元" in result.output
    with app.app_context():
        dibao = db.session.scalar(select(Enrollment).where(Enrollment.program == "dibao"))
        head = db.session.scalar(select(Person).where(Person.id_number == HEAD))
        assert dibao.person_id == head.id and dibao.payee_name == "刘建国" and head.birth_date == date(1965, 3, 4)
        assert dibao.monthly_amount == Decimal("1250.00") and dibao.member_count == 3
        assert dibao.start_month == "2024-03" and dibao.next_review_date == date(2024, 9, 1)
        assert dibao.township_code == "360124100" and dibao.village_code == "360124100001"
        assert dibao.county_code == "360124" and dibao.status == "active"
        assert dibao.decision_ref == f"import:360124:{head.id_number_bidx}:dibao"
        assert re.fullmatch(r"BZ\d{8}[0-9A-F]{8}", dibao.reference)
        assert crypto.decrypt(dibao.bank_account_enc) == "6228480012345678901" and dibao.bank_account_last4 == "8901"
        covered = db.session.scalars(
            select(EnrollmentMember.relation).where(EnrollmentMember.enrollment_id == dibao.id)
        ).all()
        assert sorted(covered) == ["child", "self", "spouse"]
        event = db.session.scalar(select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == dibao.id))
        assert (event.kind, event.source_type, event.actor_type, event.effective_month) == (
            "created",
            "import",
            "system",
            "2024-03",
        )
        assert event.diff["monthly_amount"] == [None, "1250.00"] and event.diff["member_count"] == [None, 3]
        tekun = db.session.scalar(select(Enrollment).where(Enrollment.program == "tekun"))
        assert tekun.payee_name == "赵德福" and tekun.start_month == "2023-07" and tekun.member_count == 1
        assert tekun.next_review_date == date(2024, 7, 1) and tekun.township_code == "360124101"
        household = db.session.get(Household, dibao.household_id)
        assert household.source_type == "import" and household.head_person_id == head.id
        sources = set(db.session.scalars(select(PersonFact.source_type)))
        assert sources == {"import"}
        spouse = db.session.scalar(select(Person).where(Person.id_number == SPOUSE))
        assert spouse.residence_township_code == "360124100" and spouse.gender == "F"
        db.session.remove()


def test_reimport_changes_nothing(app, tmp_path):
    path = _xlsx(tmp_path / "list.xlsx", _rows())
    assert _run(app, "import", str(path), "--county", "360124").exit_code == 0
    before = _counts(app)
    again = _run(app, "import", str(path), "--county", "360124")
    assert again.exit_code == 0, again.output
    assert "新增救助对象 0 个" in again.output and "已导入过（未改动）2 户" in again.output
    assert _counts(app) == before


@pytest.mark.parametrize(("encoding", "township"), [("gbk", "民和镇"), ("utf-8-sig", "360124100"), ("utf-8", "民和镇")])
def test_csv_in_gbk_or_utf8(app, tmp_path, encoding, township):
    rows = _rows()
    rows[0][7] = township
    result = _run(app, "import", str(_csv(tmp_path / "list.csv", rows, encoding)), "--county", "360124")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Person.name).where(Person.id_number == SPOUSE)) == "陈美兰"
        db.session.remove()


def test_county_from_township_codes(app, tmp_path):
    rows = [[*r[:7], "360124100" if r[7] else "", *r[8:]] for r in _rows()[:3]]
    result = _run(app, "import", str(_xlsx(tmp_path / "list.xlsx", rows)))
    assert result.exit_code == 0, result.output
    names = _run(app, "import", str(_xlsx(tmp_path / "named.xlsx", _rows())))
    assert names.exit_code != 0 and "请用 --county 指定县级代码" in names.output


def _bad(index: int, column: int, value: str) -> list[list[str]]:
    rows = _rows()
    rows[index][column] = value
    return rows


BAD_CHECK = HEAD[:17] + ("0" if HEAD[17] != "0" else "1")
REFUSALS = [
    (_bad(1, 2, BAD_CHECK), "第3行「身份证号」：身份证号码校验位不正确"),
    (_bad(0, 7, "不存在镇"), "第2行「乡镇（街道）」：本县（360124）没有乡镇（街道）“不存在镇”"),
    (_bad(0, 7, "360121100"), "第2行「乡镇（街道）」：本县（360124）没有乡镇（街道）“360121100”"),
    (_bad(0, 8, "无此村"), "第2行「村（社区）」：民和镇没有村（社区）“无此村”"),
    (_bad(0, 5, "5000.01"), "第2行「月发放金额（元）」：金额超过导入上限 5000 元/月"),
    (_bad(3, 5, "-1"), "第5行「月发放金额（元）」：金额不能为负数"),
    (_bad(0, 5, "九百"), "第2行「月发放金额（元）」：请填写数字金额"),
    (_bad(0, 5, "12.345"), "第2行「月发放金额（元）」：金额最多保留两位小数"),
    (_bad(0, 5, ""), "第2行「月发放金额（元）」：户主行请填写全户月发放金额"),
    (_bad(1, 5, "100"), "第3行「月发放金额（元）」：低保按户发放：金额只填在户主行"),
    (_bad(0, 3, "配偶"), "第2行「与户主关系」：户编号 A1 没有户主"),
    (_bad(1, 3, "本人"), "第3行「与户主关系」：户编号 A1 有多名户主"),
    (_bad(1, 3, "邻居"), "第3行「与户主关系」：请填写与户主关系"),
    (_bad(0, 6, "2024-13"), "第2行「起始月份」：起始月份格式不正确"),
    (_bad(0, 6, "下个月"), "第2行「起始月份」：起始月份格式不正确"),
    (_bad(0, 6, "2099-01"), "第2行「起始月份」：起始月份不能晚于"),
    (_bad(0, 4, "临时救助"), "第2行「救助项目」：救助项目只能是低保"),
    (_bad(0, 4, ""), "第2行「救助项目」：户主行请填写救助项目"),
    (_bad(2, 4, "特困"), "第4行「救助项目」：同一户的救助项目应与户主行一致"),
    (_bad(2, 1, ""), "第4行「姓名」：请填写姓名"),
    (_bad(3, 0, ""), "第5行「户编号」：请填写户编号"),
    (_bad(0, 10, "6228-48x"), "第2行「银行账号」：银行账号应为12至30位数字"),
    (_bad(3, 2, SPOUSE), "第5行「身份证号」：该身份证号已在第3行出现"),
]


@pytest.mark.parametrize(("rows", "message"), REFUSALS)
def test_every_refusal_names_row_and_column_and_writes_nothing(app, tmp_path, rows, message):
    result = _run(app, "import", str(_xlsx(tmp_path / "bad.xlsx", rows)), "--county", "360124")
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert "导入被拒绝" in result.output and "未写入任何数据" in result.output
    assert set(_counts(app).values()) == {0}


def test_all_errors_are_listed_at_once(app, tmp_path):
    rows = _bad(1, 2, BAD_CHECK)
    rows[3][5] = "-5"
    result = _run(app, "import", str(_xlsx(tmp_path / "bad.xlsx", rows)), "--county", "360124")
    assert "导入被拒绝：2处错误" in result.output
    assert result.output.index("第3行") < result.output.index("第5行")


def test_missing_column_and_unknown_file_kind(app, tmp_path):
    result = _run(app, "import", str(_xlsx(tmp_path / "cols.xlsx", [], header=HEADER[:-1])), "--county", "360124")
    assert result.exit_code == 1 and "第1行「银行账号」：缺少此列" in result.output
    other = tmp_path / "list.txt"
    other.write_text("x")
    assert "只支持 .xlsx 或 .csv 文件" in _run(app, "import", str(other), "--county", "360124").output
    empty = _run(app, "import", str(_xlsx(tmp_path / "empty.xlsx", [])), "--county", "360124")
    assert "文件中没有数据行" in empty.output
    county = _run(app, "import", str(_xlsx(tmp_path / "l.xlsx", _rows())), "--county", "999999")
    assert "未找到县级行政区划 999999" in county.output


def test_person_already_in_another_active_dibao_household_is_refused(app, tmp_path):
    with app.app_context():
        existing = db.session.get(Enrollment, make_enrollment(seq=77, members=1, head_name="刘建国"))
        number = db.session.get(Person, existing.person_id).id_number
        reference = existing.reference
        db.session.commit()
    rows = _rows()
    rows[2][2] = number  # the child's row carries the number of a recipient of another household's 低保
    before = _counts(app)
    result = _run(app, "import", str(_xlsx(tmp_path / "dup.xlsx", rows)), "--county", "360124")
    assert result.exit_code == 1
    assert f"第4行「身份证号」：此人已在另一户在保的低保中（救助对象编号 {reference}）" in result.output
    assert _counts(app) == before


def test_a_person_already_known_is_matched_not_duplicated(app, tmp_path):
    with app.app_context():
        exited = db.session.get(Enrollment, make_enrollment(seq=78, members=1, head_name="刘建国"))
        exited.status = "exited"
        number = db.session.get(Person, exited.person_id).id_number
        db.session.commit()
    rows = _rows()
    rows[0][2] = number
    result = _run(app, "import", str(_xlsx(tmp_path / "known.xlsx", rows)), "--county", "360124")
    assert result.exit_code == 0, result.output
    assert "新增人员 3 人，匹配已有人员 1 人" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Person)) == 4
        person = db.session.scalar(select(Person).where(Person.id_number == number))
        current = db.session.scalars(
            select(HouseholdMembership).where(
                HouseholdMembership.person_id == person.id, HouseholdMembership.ended_on.is_(None)
            )
        ).all()
        assert len(current) == 1 and db.session.get(Household, current[0].household_id).source_type == "import"
        db.session.remove()


def test_cap_comes_from_config(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_IMPORT_MAX_AMOUNT", 1000)
    result = _run(app, "import", str(_xlsx(tmp_path / "cap.xlsx", _rows())), "--county", "360124")
    assert result.exit_code == 1
    assert "第2行「月发放金额（元）」：金额超过导入上限 1000 元/月" in result.output
    assert "第5行「月发放金额（元）」：金额超过导入上限 1000 元/月" in result.output


def test_dry_run_counts_and_writes_nothing(app, tmp_path):
    result = _run(app, "import", str(_xlsx(tmp_path / "list.xlsx", _rows())), "--county", "360124", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "将新增家庭 2 户" in result.output and "将新增救助对象 2 个" in result.output and "试运行" in result.output
    assert set(_counts(app).values()) == {0}
    bad = _run(
        app, "import", str(_xlsx(tmp_path / "bad.xlsx", _bad(0, 7, "不存在镇"))), "--county", "360124", "--dry-run"
    )
    assert bad.exit_code == 1 and "第2行「乡镇（街道）」" in bad.output


def test_template_round_trip(app, tmp_path):
    out = tmp_path / "template.xlsx"
    result = _run(app, "import-template", str(out))
    assert result.exit_code == 0 and out.exists()
    book = load_workbook(out)
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER and sheet.freeze_panes == "A2"
    notes = book["填写说明"]
    examples = [[c.value for c in row] for row in notes.iter_rows() if row[0].value in ("0001", "0002")]
    assert len(examples) == 3
    for row in [*examples, *_rows()]:
        row[0] = f"X{row[0]}"
        sheet.append(row)
    book.save(out)
    imported = _run(app, "import", str(out), "--county", "360124")
    assert imported.exit_code == 0, imported.output
    assert "新增家庭 4 户" in imported.output and "新增救助对象 4 个" in imported.output


def test_imported_recipients_are_found_by_name_prefix_last_four_or_both(app, tmp_path):
    from core.actor import Actor
    from core.registry.officer import list_enrollments

    assert _run(app, "import", str(_xlsx(tmp_path / "list.xlsx", _rows())), "--county", "360124").exit_code == 0
    county = Actor(kind="officer", id=None, roles=("county_officer",), region_code="360124")
    minhe = Actor(kind="officer", id=None, roles=("township_officer",), region_code="360124101")
    with app.app_context():

        def names(actor, q):
            return [e.payee_name for e in list_enrollments(actor, q=q).items]

        assert names(county, "刘建") == ["刘建国"]
        assert names(county, "刘") == ["刘建国"]  # the 低保 household's payee, not its members' names
        assert names(county, HEAD[-4:]) == ["刘建国"]
        assert names(county, f"刘建 {HEAD[-4:]}") == ["刘建国"] == names(county, f"刘建国{HEAD[-4:]}")
        assert names(county, f"赵 {HEAD[-4:]}") == []
        assert names(county, "100%") == [] and names(county, "刘_") == []  # LIKE wildcards are literal
        assert names(minhe, "刘建") == [] and names(minhe, "赵德") == ["赵德福"]  # region scope
        reference = db.session.scalar(select(Enrollment.reference).where(Enrollment.program == "tekun"))
        assert names(county, reference.lower()) == ["赵德福"]
        db.session.remove()


def test_two_imports_of_one_county_at_once_on_postgresql(app, tmp_path, monkeypatch):
    """The second import waits for the first (advisory lock) and then finds its rows: one set of records."""
    import threading
    import time

    from core.actor import SYSTEM
    from core.database import commit
    from core.registry import importer

    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("concurrency is decided by PostgreSQL (run the suite with DATABASE_URL=postgresql…)")
    rows = importer.parse_file(_xlsx(tmp_path / "list.xlsx", _rows()))
    original = importer.plan

    def slow(*args, **kwargs):
        found = original(*args, **kwargs)
        time.sleep(0.5)  # widen the window between the checks and the writes
        return found

    monkeypatch.setattr(importer, "plan", slow)
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = importer.import_rows(SYSTEM, rows, "360124", max_amount=Decimal("5000"))
                commit()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, importer.ImportResult) for r in results), results
    assert sorted(r.enrollments_new for r in results) == [0, 2]
    counts = _counts(app)
    assert counts["persons"] == 4 and counts["enrollments"] == 2 and counts["registry_households"] == 2


def test_a_member_of_an_imported_household_cannot_join_a_new_one_by_a_second_file(app, tmp_path):
    assert _run(app, "import", str(_xlsx(tmp_path / "one.xlsx", _rows())), "--county", "360124").exit_code == 0
    before = _counts(app)
    rows = _rows()
    moved = rows.pop(1)  # the spouse leaves household A1 in the second file …
    rows.append(["C3", "陈美兰", moved[2], "本人", "低保", "800.00", "2025-01", "民和镇", "", "", ""])  # … heading C3
    result = _run(app, "import", str(_xlsx(tmp_path / "two.xlsx", rows)), "--county", "360124")
    assert result.exit_code == 1
    assert "第5行「身份证号」：此人已在另一户在保的低保中" in result.output
    assert _counts(app) == before
