"""Warnings in the portal: the township sees the death warning in its queue and list, opens it (audited),
records the verification; the county stops payment; another county gets 404; the Excel export is masked."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.database import db
from core.registry.models import Enrollment
from core.warnings.models import RiskWarning
from tests.exchange.exchange_helpers import make_client, post_json
from tests.exchange.test_death_events import _death, _member
from tests.helpers import csrf_token
from tests.portal.test_workflow import _officer
from tests.registry.factory import make_enrollment
from tests.registry.rolls_helpers import MINHE


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24)


def _warning(app, client) -> tuple[int, int]:
    with app.app_context():
        enrollment_id = make_enrollment(seq=720, township=MINHE, amount="905.00", head_name="刘建华")
        _, key_id = make_client()
    number, _ = _member(app, enrollment_id, head=True)
    assert post_json(client, "/api/v1/exchange/events", {"events": [_death(number)]}, key_id=key_id).status_code == 200
    with app.app_context():
        return db.session.scalar(select(RiskWarning.id)), enrollment_id


def _post(officer, page_url: str, action_url: str, **data):
    page = officer.get(page_url).get_data(as_text=True)
    return officer.post(action_url, data={"csrf_token": csrf_token(page), **data})


def test_township_verifies_and_county_exits_the_enrollment(app, client):
    warning_id, enrollment_id = _warning(app, client)
    township = _officer(app, "minhe-w1", region=MINHE)
    queue = township.get("/portal/queue?bucket=warning").get_data(as_text=True)
    assert "在保对象死亡" in queue
    listing = township.get("/portal/warnings").get_data(as_text=True)
    assert 'data-testid="warning-row"' in listing and "刘建华" in listing
    page = township.get(f"/portal/warnings/{warning_id}")
    assert page.status_code == 200 and "HH-1" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "warnings.view")) is not None
    empty = _post(township, f"/portal/warnings/{warning_id}", f"/portal/warnings/{warning_id}/verify", result="")
    assert empty.status_code == 422 and "请选择核查结论" in empty.get_data(as_text=True)
    done = _post(
        township,
        f"/portal/warnings/{warning_id}",
        f"/portal/warnings/{warning_id}/verify",
        result="confirmed",
        note="经入户核实，本人已于11月10日去世",
    )
    assert done.status_code == 303
    assert 'data-testid="act-form"' not in township.get(f"/portal/warnings/{warning_id}").get_data(as_text=True)
    county = _officer(app, "jinxian-w1", region="360124", role="county_officer")
    bad = _post(
        county, f"/portal/warnings/{warning_id}", f"/portal/warnings/{warning_id}/act", action="exit", month="11/2026"
    )
    assert bad.status_code == 422 and "月份格式" in bad.get_data(as_text=True)
    acted = _post(
        county,
        f"/portal/warnings/{warning_id}",
        f"/portal/warnings/{warning_id}/act",
        action="exit",
        reason="死亡，终止救助",
        month="2026-11",
    )
    assert acted.status_code == 303
    with app.app_context():
        assert db.session.get(Enrollment, enrollment_id).status == "exited"
        assert db.session.get(RiskWarning, warning_id).status == "closed"


def test_another_county_gets_404_and_export_is_masked(app, client):
    warning_id, _ = _warning(app, client)
    other = _officer(app, "nanchang-w1", region="360121", role="county_officer")
    assert other.get(f"/portal/warnings/{warning_id}").status_code == 404
    assert other.post(f"/portal/warnings/{warning_id}/verify", data={}).status_code in (400, 404)
    assert 'data-testid="warnings-empty"' in other.get("/portal/warnings").get_data(as_text=True)
    county = _officer(app, "jinxian-w2", region="360124", role="county_officer")
    response = county.get("/portal/warnings/export")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    flat = " ".join(str(v) for row in values for v in row if v is not None)
    assert "刘**" in flat and "**" in flat
    with app.app_context():
        number = db.session.get(RiskWarning, warning_id).id_number
    assert number not in flat
