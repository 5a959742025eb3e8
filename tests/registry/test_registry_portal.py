"""The registry in the portal: enrollment list, filters, search, export, the county's changes, the person
page (一人一档) and the household page — each inside the officer's region only."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from core import clock
from core.audit.models import AuditEntry
from core.database import db
from core.registry.models import Enrollment, Person
from tests.helpers import csrf_token, id_number
from tests.portal.test_workflow import _act, _long_sessions, _officer, _steps, _to_notice
from tests.registry.factory import make_enrollment


def _setup(app):
    with app.app_context():
        minhe = make_enrollment(
            seq=400, township="360124100", village="360124100001", amount="905.00", head_name="王大明"
        )
        lidu = make_enrollment(seq=401, township="360124101", village=None, amount="650.00", head_name="李小花")
        return minhe, lidu


def test_county_lists_filters_searches_and_exports(client, app):
    _setup(app)
    county = _officer(app, "reg_county_a", region="360124", role="county_officer")
    page = county.get("/portal/registry").get_data(as_text=True)
    assert "共 2 户（人）" in page and "王大明" in page and "李小花" in page
    only = county.get("/portal/registry?township=360124101").get_data(as_text=True)
    assert "李小花" in only and "王大明" not in only
    last4 = id_number(date(1970, 5, 6), 401)[-4:]
    found = county.get(f"/portal/registry?q={last4}").get_data(as_text=True)
    assert "王大明" in found and "李小花" not in found
    by_name = county.get("/portal/registry?q=李小").get_data(as_text=True)
    assert "李小花" in by_name and "王大明" not in by_name
    full = county.get(f"/portal/registry?q={id_number(date(1970, 5, 6), 402)}").get_data(as_text=True)
    assert "李小花" in full and "王大明" not in full
    empty = county.get("/portal/registry?q=无此人").get_data(as_text=True)
    assert "没有符合条件的救助对象" in empty
    assert county.get("/portal/registry?page=10000000000000000000000").status_code == 404
    resp = county.get("/portal/registry/export")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header = next(r for r in values if r and r[0] == "编号")
    assert "月发放金额（元）" in header and "身份证号" in header
    data = [r for r in values if r and isinstance(r[0], str) and r[0].startswith("BZ")]
    assert len(data) == 2 and all("*" in r[header.index("身份证号")] for r in data)
    assert sheet.freeze_panes is not None


def test_township_sees_only_its_own_and_cannot_change(client, app):
    minhe, lidu = _setup(app)
    township = _officer(app, "reg_town_a", region="360124100")
    page = township.get("/portal/registry").get_data(as_text=True)
    assert "王大明" in page and "李小花" not in page
    assert township.get(f"/portal/registry/enrollments/{lidu}").status_code == 404
    detail = township.get(f"/portal/registry/enrollments/{minhe}")
    assert detail.status_code == 200 and "变更待遇" not in detail.get_data(as_text=True)
    token = csrf_token(detail.get_data(as_text=True))
    denied = township.post(
        f"/portal/registry/enrollments/{minhe}/change",
        data={"csrf_token": token, "kind": "suspended", "reason": "外出"},
    )
    assert denied.status_code == 403
    other_county = _officer(app, "reg_other_county", region="360121", role="county_officer")
    assert other_county.get(f"/portal/registry/enrollments/{minhe}").status_code == 404
    assert "共 0 户（人）" in other_county.get("/portal/registry").get_data(as_text=True)
    with app.app_context():
        person_id = db.session.get(Enrollment, lidu).person_id
    assert township.get(f"/portal/registry/persons/{person_id}").status_code == 404


def test_county_adjusts_with_field_errors_and_stale_form(client, app):
    minhe, _ = _setup(app)
    county = _officer(app, "reg_county_b", region="360124", role="county_officer")
    page = county.get(f"/portal/registry/enrollments/{minhe}").get_data(as_text=True)
    token = csrf_token(page)
    with app.app_context():
        version = db.session.get(Enrollment, minhe).version
    url = f"/portal/registry/enrollments/{minhe}/change"
    for amount, message in (("-5", "不能为负数"), ("abc", "请填写正确的"), ("99999999999", "不能超过")):
        bad = county.post(
            url, data={"csrf_token": token, "version": version, "kind": "adjusted", "amount": amount, "reason": "x"}
        )
        assert bad.status_code == 422 and message in bad.get_data(as_text=True)
    no_reason = county.post(url, data={"csrf_token": token, "version": version, "kind": "adjusted", "amount": "700"})
    assert no_reason.status_code == 422 and "请填写原因" in no_reason.get_data(as_text=True)
    ok = county.post(
        url,
        data={
            "csrf_token": token,
            "version": version,
            "kind": "adjusted",
            "amount": "700.50",
            "reason": "家庭收入增加",
        },
    )
    assert ok.status_code == 302
    stale = county.post(url, data={"csrf_token": token, "version": version, "kind": "suspended", "reason": "外出务工"})
    assert stale.status_code == 409 and "已被他人修改" in stale.get_data(as_text=True)
    detail = county.get(f"/portal/registry/enrollments/{minhe}").get_data(as_text=True)
    assert "700.50 元" in detail and "家庭收入增加" in detail


def test_person_page_timeline_reveal_and_household(client, app, monkeypatch):
    _long_sessions(app, monkeypatch)
    officer = _officer(app, "reg_person_t")
    _, app_id = _to_notice(client, app, officer, "13900080001")
    clock.set_offset(timedelta(days=8))
    assert _act(officer, app_id, _steps(app, app_id)["public_notice"], "notice_finish").status_code == 302
    county = _officer(app, "reg_person_c", region="360124", role="county_officer")
    steps = _steps(app, app_id)
    ok = _act(county, app_id, steps["confirmation"], "decide", result="approve", amount="650", start_month="2026-12")
    assert ok.status_code == 302
    with app.app_context():
        enrollment = db.session.scalar(select(Enrollment).where(Enrollment.application_id == app_id))
        person = db.session.get(Person, enrollment.person_id)
        person_id, household_id, number = person.id, enrollment.household_id, person.id_number
    page = officer.get(f"/portal/registry/persons/{person_id}").get_data(as_text=True)
    assert "一人一档" in page and number not in page and number[-4:] in page
    assert (
        'data-kind="application"' in page and 'data-kind="enrollment"' in page and 'data-kind="authorization"' in page
    )
    revealed = officer.post(
        f"/portal/registry/persons/{person_id}/reveal", data={"csrf_token": csrf_token(page), "purpose": "入户核实"}
    )
    assert revealed.status_code == 200 and number in revealed.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.reveal_id_number"))
        assert entry is not None and number not in str(entry.detail) and entry.detail["purpose"] == "入户核实"
    household = officer.get(f"/portal/registry/households/{household_id}").get_data(as_text=True)
    assert "张建国" in household and "本人" in household and "每月650.00元" in household
