"""Done when: a department load shows a child whose carers are in prison, a family whose medical costs
exploded and a newly disabled person → three warnings in the right townships; one becomes a proxy
application through the disposition; the dashboard shows the conversion. Twice over a load: no second
warning; evidence only in the region; every view audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.actor import SYSTEM
from core.applications.models import Application
from core.audit.models import AuditEntry
from core.casework.models import Case
from core.database import commit, db
from core.errors import NotFound, ValidationFailed
from core.monitoring import dashboard, dispositions, evaluation, roster
from core.monitoring.models import MonitoringDisposition
from core.warnings import services as warnings
from core.warnings.models import RiskWarning
from tests.exchange import factory
from tests.monitoring.monitoring_helpers import department_client, household, push

MINHE, LIDU = "360124100", "360124101"


@pytest.fixture
def world(ctx):
    today = clock.local_today()
    child_home = household(
        MINHE,
        [("赵强", date(1988, 3, 1), "self"), ("赵小宝", today - timedelta(days=365 * 9), "child")],
    )
    sick_home = household(LIDU, [("钱大勇", date(1972, 4, 2), "self"), ("孙梅", date(1975, 6, 3), "spouse")])
    disabled_home = household(MINHE, [("李残", date(1995, 1, 9), "self")])
    quiet_home = household(LIDU, [("周平", date(1980, 2, 2), "self")])
    roster.rebuild(SYSTEM)
    dept, cl = department_client(["imprisonment", "medical_costs", "disability_certificates"])
    commit()
    return {
        "carer": child_home[0],
        "child": child_home[1],
        "sick": sick_home,
        "disabled": disabled_home[0],
        "quiet": quiet_home[0],
        "dept": dept,
        "client": cl,
        "today": today,
    }


def _load(world):
    today = world["today"]
    d, cl = world["dept"], world["client"]
    loads = [
        push(
            d,
            cl,
            "imprisonment",
            [{"id_number": world["carer"], "status": "服刑", "start_date": (today - timedelta(days=40)).isoformat()}],
            "prison-1",
        ),
        push(
            d,
            cl,
            "medical_costs",
            [
                {
                    "id_number": world["sick"][0],
                    "settled_on": (today - timedelta(days=60)).isoformat(),
                    "out_of_pocket": "28000",
                    "total_cost": "70000",
                },
                {
                    "id_number": world["sick"][1],
                    "settled_on": (today - timedelta(days=20)).isoformat(),
                    "out_of_pocket": "9000",
                    "total_cost": "12000",
                },
                {
                    "id_number": world["quiet"],
                    "settled_on": (today - timedelta(days=20)).isoformat(),
                    "out_of_pocket": "300",
                    "total_cost": "500",
                },
            ],
            "medical-1",
        ),
        push(
            d,
            cl,
            "disability_certificates",
            [
                {
                    "id_number": world["disabled"],
                    "disability_type": "肢体",
                    "grade": "一级",
                    "issued_on": (today - timedelta(days=10)).isoformat(),
                }
            ],
            "disability-1",
        ),
    ]
    commit()
    assert all(load.status == "completed" and load.rows_accepted for load in loads), [x.message for x in loads]
    for load in loads:
        evaluation.run_load(load.id)
    commit()
    return loads


def _warnings():
    return {
        (w.reason, w.name): w for w in db.session.scalars(select(RiskWarning).where(RiskWarning.source == "monitoring"))
    }


def test_three_warnings_in_the_right_townships_and_one_becomes_an_application(world):
    loads = _load(world)
    found = _warnings()
    assert set(found) >= {("vulnerable", "赵小宝"), ("rigid_expenditure", "钱大勇"), ("vulnerable", "李残")}
    assert not any(name == "周平" for _, name in found)
    child, family, disabled = (
        found[("vulnerable", "赵小宝")],
        found[("rigid_expenditure", "钱大勇")],
        found[("vulnerable", "李残")],
    )
    assert (child.township_code, family.township_code, disabled.township_code) == (MINHE, LIDU, MINHE)
    assert child.level == "red" and "事实无人抚养儿童" in child.summary
    assert "37,000.00 元" in family.summary and family.values["findings"]["medical_12m"]["value"] == 37000
    assert {e["category"] for e in family.evidence} >= {"medical_costs"}
    assert "残疾人证" in disabled.summary or "残疾" in disabled.summary
    case = db.session.get(Case, child.case_id)
    assert case.kind == "warning" and case.township_code == MINHE and case.due_date is not None
    # twice over the same loads: nothing new (the run is recorded once; forced, the warnings dedupe)
    before = db.session.scalar(select(func.count()).select_from(RiskWarning))
    assert evaluation.run_load(loads[1].id) is None
    forced = evaluation.run_load(loads[1].id, force=True)
    commit()
    assert forced.created == 0 and db.session.scalar(select(func.count()).select_from(RiskWarning)) == before
    assert db.session.scalar(select(RiskWarning.hit_count).where(RiskWarning.id == family.id)) == 1
    # the township of Lidu disposes: 核实属实 → a proxy application
    lidu = factory.officer("lidu-m", "township_officer", LIDU)
    with pytest.raises(ValidationFailed) as err:
        dispositions.dispose(lidu, family.id, kind="apply", note="入户核实属实", program=None)
    assert "program" in err.value.errors
    row = dispositions.dispose(
        lidu, family.id, kind="apply", note="入户核实，住院费用属实，家庭无力承担", program="dibao"
    )
    commit()
    app = db.session.get(Application, row.application_id)
    assert app.is_proxy and app.status == "submitted" and app.applicant_name == "钱大勇"
    assert app.residence_township_code == LIDU and app.case_id is not None
    warning = db.session.get(RiskWarning, family.id)
    assert warning.status == "closed" and warning.open_key is None and warning.values["application_id"] == app.id
    assert db.session.get(Case, warning.case_id).status == "closed"
    # a second disposition is refused
    with pytest.raises(Exception):
        dispositions.dispose(lidu, family.id, kind="covered", note="重复")
    # the same loads again after closing: no new warning from the same records
    evaluation.run_load(loads[1].id, force=True)
    commit()
    assert (
        db.session.scalar(
            select(func.count()).select_from(RiskWarning).where(RiskWarning.reason == "rigid_expenditure")
        )
        == 1
    )
    # the dashboard shows the conversion
    county = factory.officer("jx-county-m", "county_officer", "360124")
    data = dashboard.build(county)
    assert data["conversion"]["warnings"] >= 3 and data["conversion"]["applications"] == 1
    assert data["dispositions"][0] == {"code": "apply", "label": "核实属实，代为发起救助申请", "count": 1}
    assert data["rules"][0]["code"] == "medical_12m" and data["rules"][0]["confirmed_percent"] == 100.0
    assert {r["township_code"] for r in data["townships"]} == {MINHE, LIDU}


def test_other_region_cannot_see_or_dispose_and_views_are_audited(world):
    _load(world)
    found = _warnings()
    child = found[("vulnerable", "赵小宝")]
    lidu = factory.officer("lidu-x", "township_officer", LIDU)
    other_county = factory.officer("nc-x", "county_officer", "360121")
    for actor in (lidu, other_county):
        with pytest.raises(NotFound):
            warnings.view(actor, child.id)
        with pytest.raises(NotFound):
            dispositions.dispose(actor, child.id, kind="covered", note="已在保障")
    assert dashboard.build(other_county)["total"] == 0
    minhe = factory.officer("minhe-x", "township_officer", MINHE)
    warnings.view(minhe, child.id)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "warnings.view")) is not None


def test_referral_and_not_eligible_need_their_fields(world):
    _load(world)
    disabled = _warnings()[("vulnerable", "李残")]
    minhe = factory.officer("minhe-y", "township_officer", MINHE)
    with pytest.raises(ValidationFailed) as err:
        dispositions.dispose(minhe, disabled.id, kind="referral", note="转残联")
    assert err.value.errors == {"referral_to": ["请选择转介部门"]}
    with pytest.raises(ValidationFailed) as err:
        dispositions.dispose(minhe, disabled.id, kind="not_eligible", note="")
    assert "不符合条件的原因" in err.value.errors["note"][0]
    row = dispositions.dispose(minhe, disabled.id, kind="referral", note="转残联办理两项补贴", referral_to="disability")
    commit()
    assert row.referral_to == "disability" and row.on_time is True
    assert db.session.scalar(select(MonitoringDisposition.kind)) == "referral"


def test_sweep_and_full_run_from_the_command_line(world, app):
    d, cl = world["dept"], world["client"]
    load = push(
        d,
        cl,
        "disability_certificates",
        [
            {
                "id_number": world["disabled"],
                "disability_type": "肢体",
                "grade": "二级",
                "issued_on": str(world["today"] - timedelta(days=5)),
            }
        ],
        "disability-sweep",
    )
    commit()
    assert evaluation.pending_loads() == [load.id]
    runner = app.test_cli_runner()
    out = runner.invoke(args=["monitoring", "sweep"])
    assert out.exit_code == 0 and "1 new warnings" in out.output, out.output
    db.session.remove()
    assert evaluation.pending_loads() == []
    out = runner.invoke(args=["monitoring", "evaluate"])
    assert out.exit_code == 0 and "full as of" in out.output and "0 new warnings" in out.output, out.output
    out = runner.invoke(args=["monitoring", "evaluate"])
    assert "already evaluated" in out.output


def test_an_overdue_monitoring_warning_is_escalated_to_the_county(world):
    from core.desk import deadlines

    _load(world)
    child = _warnings()[("vulnerable", "赵小宝")]
    case = db.session.get(Case, child.case_id)
    assert case.due_date is not None and case.escalated_at is None
    clock.set_offset(timedelta(days=14))  # past the red level's 3 working days
    deadlines.check(SYSTEM)
    commit()
    assert db.session.get(Case, child.case_id).escalated_at is not None


def test_the_warning_shows_an_open_report_about_the_same_person(world):
    from core.accounts.models import User
    from core.reports.models import Report

    _load(world)
    child = _warnings()[("vulnerable", "赵小宝")]
    user = User(phone="13900000088")
    db.session.add(user)
    db.session.flush()
    db.session.add(
        Report(
            reference="MON-R-9",
            reporter_user_id=user.id,
            reporter_role="grid_worker",
            category="child",
            township_code=MINHE,
            person_name="赵小宝",
            person_id_number=world["child"],
        )
    )
    db.session.flush()
    related = dispositions.related(child)
    assert [r.kind for r in related] == ["report"] and related[0].text.startswith("网格员已于")
