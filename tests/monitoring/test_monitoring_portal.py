"""The portal: a township officer disposes of a monitoring warning into a proxy application; the county
dashboard shows the conversion (charts from local files, tables, Excel); the county edits its rules
(errors with the field), previews and switches them on; another county gets 404."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core import clock
from core.actor import SYSTEM
from core.database import commit, db
from core.monitoring import evaluation, roster
from core.monitoring.models import MonitoringRuleSet
from core.warnings.models import RiskWarning
from tests.helpers import csrf_token
from tests.monitoring.monitoring_helpers import department_client, household, push
from tests.portal.test_workflow import _officer

LIDU = "360124101"


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24)


def _warning(app) -> int:
    with app.app_context():
        today = clock.local_today()
        numbers = household(LIDU, [("钱大勇", date(1972, 4, 2), "self")])
        roster.rebuild(SYSTEM)
        dept, cl = department_client(["medical_costs"])
        load = push(
            dept,
            cl,
            "medical_costs",
            [
                {
                    "id_number": numbers[0],
                    "settled_on": (today - timedelta(days=30)).isoformat(),
                    "out_of_pocket": "45000",
                }
            ],
            "m-1",
        )
        commit()
        evaluation.run_load(load.id)
        commit()
        warning_id = db.session.scalar(select(RiskWarning.id).where(RiskWarning.source == "monitoring"))
        db.session.remove()
        return warning_id


def _post(officer, page_url: str, action_url: str, **data):
    page = officer.get(page_url).get_data(as_text=True)
    return officer.post(action_url, data={"csrf_token": csrf_token(page), **data})


def test_township_disposes_into_an_application_and_the_dashboard_counts_it(app):
    warning_id = _warning(app)
    lidu = _officer(app, "lidu-mp", region=LIDU)
    page = lidu.get(f"/portal/warnings/{warning_id}").get_data(as_text=True)
    assert 'data-testid="monitoring-dispose-form"' in page and 'data-testid="verify-form"' not in page
    assert "45,000.00 元" in page and 'data-testid="monitoring-findings"' in page
    url = f"/portal/warnings/{warning_id}"
    bad = _post(lidu, url, f"/portal/monitoring/warnings/{warning_id}/dispose", kind="apply", note="核实属实")
    assert bad.status_code == 303
    assert "请选择代为申请的救助项目" in lidu.get(url).get_data(as_text=True)
    done = _post(
        lidu,
        url,
        f"/portal/monitoring/warnings/{warning_id}/dispose",
        kind="apply",
        note="入户核实属实",
        program="dibao",
    )
    assert done.status_code == 303 and "/portal/applications/" in done.headers["Location"]
    county = _officer(app, "jx-mp", region="360124", role="county_officer")
    dash = county.get("/portal/monitoring").get_data(as_text=True)
    assert 'data-testid="conversion-applications">1<' in dash
    assert "vendor/echarts/echarts.min.js" in dash and "<script>" not in dash
    data = county.get("/portal/monitoring/data.json").get_json()
    assert data["conversion"]["applications"] == 1 and data["by_scenario"][0]["code"] == "rigid_expenditure"
    xlsx = county.get("/portal/monitoring?format=xlsx")
    book = load_workbook(io.BytesIO(xlsx.data))
    assert "转化" in book.sheetnames and book["转化"]["B3"].value == 1
    other = _officer(app, "nc-mp", region="360121", role="county_officer")
    assert other.get(f"/portal/warnings/{warning_id}").status_code == 404
    assert other.get("/portal/monitoring/data.json").get_json()["total"] == 0


def test_county_edits_previews_and_activates_rules(app):
    county = _officer(app, "jx-rules-p", region="360124", role="county_officer")
    page = county.get("/portal/monitoring/rules")
    assert page.status_code == 200 and "全省默认规则" in page.get_data(as_text=True)
    bad = _post(
        county,
        "/portal/monitoring/rules",
        "/portal/monitoring/rules?county=360124",
        **{"medical_12m.threshold": "-100", "medical_12m.enabled": "1", "medical_12m.window_months": "-1"},
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "阈值必须大于0" in text and "时间窗口不能为负数" in text
    ok = _post(
        county,
        "/portal/monitoring/rules",
        "/portal/monitoring/rules?county=360124",
        **{"medical_12m.threshold": "20000", "medical_12m.enabled": "1", "note": "下调医疗费用阈值"},
    )
    assert ok.status_code == 303
    version_url = ok.headers["Location"]
    assert "disabled" in county.get(version_url).get_data(as_text=True)
    ruleset_id = int(version_url.rsplit("/", 1)[1])
    assert _post(county, version_url, f"/portal/monitoring/rules/{ruleset_id}/preview").status_code == 303
    assert 'data-testid="preview-summary"' in county.get(version_url).get_data(as_text=True)
    assert _post(county, version_url, f"/portal/monitoring/rules/{ruleset_id}/activate").status_code == 303
    with app.app_context():
        row = db.session.get(MonitoringRuleSet, ruleset_id)
        assert row.status == "active"
        assert next(r for r in row.rules if r["code"] == "medical_12m")["threshold"] == 20000
        # unedited rules keep their enabled flag off only when the box was unticked
        assert next(r for r in row.rules if r["code"] == "medical_12m")["enabled"] is True
    other = _officer(app, "nc-rules-p", region="360121", role="county_officer")
    assert other.get("/portal/monitoring/rules?county=360124").status_code == 404
    assert other.get(version_url).status_code == 404
    stolen = _post(other, "/portal/monitoring/rules", f"/portal/monitoring/rules/{ruleset_id}/activate")
    assert stolen.status_code == 404
    township = _officer(app, "minhe-rules-p", region="360124100")
    assert township.get("/portal/monitoring/rules?county=360124").status_code == 403
