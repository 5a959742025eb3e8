"""The roster: recipients, refused applicants and reported persons from the registry; imported lists
(CSV UTF-8/GBK, XLSX, Chinese headers) with errors by row, all or nothing; counties see their own."""

from __future__ import annotations

from datetime import date, timedelta

from openpyxl import Workbook
from sqlalchemy import func, select

from core import clock
from core.actor import SYSTEM
from core.database import commit, db
from core.monitoring import roster
from core.monitoring.models import MonitoringMember
from core.registry.models import Enrollment
from tests.exchange import factory
from tests.helpers import id_number
from tests.monitoring.monitoring_helpers import household

GOOD = [id_number(date(1966, 1, 1), 401), id_number(date(1977, 2, 2), 402), id_number(date(2012, 3, 3), 403)]


def test_rebuild_takes_recipients_and_ends_exited_ones(ctx):
    numbers = household("360124100", [("甲", date(1970, 1, 1), "self"), ("乙", date(2010, 1, 1), "child")])
    household("360121100", [("丙", date(1960, 1, 1), "self")], program="tekun")
    result = roster.rebuild(SYSTEM)
    commit()
    assert result.added == 3 and result.by_source == {"dibao": 2, "tekun": 1}
    snap = roster.snapshot(clock.local_today())
    rows = {r["id_number"]: r for r in snap.to_pylist()}
    assert rows[numbers[0]]["rank"] == 0 and rows[numbers[1]]["rank"] > 0
    assert rows[numbers[0]]["household_key"] == rows[numbers[1]]["household_key"]
    again = roster.rebuild(SYSTEM)
    assert (again.added, again.updated) == (0, 0)
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.program == "dibao"))
    enrollment.status = "exited"
    ended = roster.rebuild(SYSTEM)
    assert ended.ended == 2
    minhe = factory.officer("minhe-roster", "township_officer", "360124100")
    nanchang = factory.officer("nc-roster", "county_officer", "360121")
    assert roster.counts(nanchang) == [("tekun", "特困人员", 1)]
    # the period includes its last day: counted today, gone from tomorrow's snapshot
    assert roster.counts(minhe) == [("dibao", "低保对象", 2)]
    assert roster.snapshot(clock.local_today() + timedelta(days=1), counties=["360124"]).num_rows == 0


def _csv(tmp_path, lines, encoding="utf-8-sig"):
    path = tmp_path / "名单.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


def test_import_reports_every_bad_row_and_stores_nothing(ctx, tmp_path):
    bad_check = GOOD[0][:17] + ("0" if GOOD[0][17] != "0" else "1")
    path = _csv(
        tmp_path,
        [
            "身份证号,姓名,乡镇（街道）代码,类别,结束日期",
            f"{GOOD[0]},王一,360124100,乡村振兴监测对象,2027-06-30",
            f"{bad_check},王二,360124100,,",
            f"{GOOD[1]},,360124100,,",
            f"{GOOD[2]},王四,999999999,,",
            f"{GOOD[1]},王五,360124101,低保边缘,2027/1/1",
            f"{GOOD[0]},王一,360124100,乡村振兴监测对象,",
            f"{GOOD[2]},王六,360124101,支出型困难,明年",
        ],
    )
    result = roster.import_file(SYSTEM, path)
    assert [(r, c) for r, c, _ in result.errors] == [
        (3, "身份证号"),
        (4, "姓名"),
        (5, "乡镇（街道）代码"),
        (7, "身份证号"),
        (8, "开始日期/结束日期"),
    ]
    assert "校验位" in result.errors[0][2] and "第2行重复" in result.errors[3][2]
    assert db.session.scalar(select(func.count()).select_from(MonitoringMember)) == 0


def test_import_gbk_and_xlsx(ctx, tmp_path, app):
    gbk = _csv(
        tmp_path,
        [
            "身份证号,姓名,乡镇（街道）代码,类别,户编号,与户主关系",
            f"{GOOD[0]},王一,360124100,低保边缘,H1,户主",
            f"{GOOD[2]},王小,360124100,低保边缘,H1,子女",
        ],
        encoding="gb18030",
    )
    result = roster.import_file(SYSTEM, gbk)
    commit()
    assert (result.errors, result.added) == ([], 2)
    members = {m.name: m for m in db.session.scalars(select(MonitoringMember))}
    assert members["王一"].source == "marginal" and members["王一"].household_key == members["王小"].household_key
    assert members["王一"].rank == 0 and members["王小"].rank > 0
    book = Workbook()
    sheet = book.active
    sheet.append(["公民身份号码", "姓名", "乡镇代码", "类别", "开始日期"])
    sheet.append([GOOD[1], "王二", "360124101", "乡村振兴监测对象", "2026-01-01"])
    xlsx = tmp_path / "list.xlsx"
    book.save(xlsx)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["monitoring", "import", str(xlsx)])
    assert out.exit_code == 0, out.output
    assert "1 added" in out.output
    bad = _csv(tmp_path, ["身份证号,姓名", f"{GOOD[1]},王二"])
    out = runner.invoke(args=["monitoring", "import", str(bad)])
    assert out.exit_code != 0 and "缺少列" in out.output


def test_refused_applicants_and_reported_persons_join_the_roster(ctx):
    from core.accounts.models import User
    from core.applications.models import Application
    from core.households.models import HouseholdMember
    from core.reports.models import Report

    user = User(phone="13900000077")
    db.session.add(user)
    db.session.flush()
    old = clock.utcnow() - timedelta(days=31 * 30)
    for n, (status, closed) in enumerate((("rejected", clock.utcnow()), ("withdrawn", old), ("accepted", None))):
        app = Application(
            reference=f"MON-APP-{n}",
            program="dibao",
            status=status,
            applicant_name="申请人",
            applicant_id_number=GOOD[n],
            residence_township_code="360124101",
            closed_at=closed,
        )
        app.members = [HouseholdMember(position=0, name=f"申请人{n}", id_number=GOOD[n], relation="self")]
        db.session.add(app)
    db.session.add(
        Report(
            reference="MON-R-1",
            reporter_user_id=user.id,
            reporter_role="grid_worker",
            category="elderly_alone",
            township_code="360124100",
            person_name="被报告人",
            person_id_number=id_number(date(1940, 5, 5), 404),
        )
    )
    db.session.flush()
    result = roster.rebuild(SYSTEM)
    assert result.by_source == {"refused": 1, "reported": 1}  # the withdrawal is older than 24 months
    members = {m.source: m for m in db.session.scalars(select(MonitoringMember))}
    assert members["refused"].name == "申请人0" and members["refused"].township_code == "360124101"
    assert members["refused"].period_end is not None
    assert members["reported"].township_code == "360124100"
