"""Departments and API clients in the portal: a system administrator registers a department and issues a
key (shown once), which then signs calls; rotation keeps the old secret for the grace period; revocation
ends it; a city administrator of another city sees nothing; other officers are refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from core.audit.models import AuditEntry
from core.database import db
from core.exchange.models import ApiClient
from core.regions import services as regions
from tests.exchange.exchange_helpers import get
from tests.helpers import csrf_token
from tests.portal.test_workflow import _officer


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24)


def _post(officer, page_url: str, action_url: str, data):
    page = officer.get(page_url).get_data(as_text=True)
    form = MultiDict([("csrf_token", csrf_token(page)), *(data.items() if isinstance(data, dict) else data)])
    return officer.post(action_url, data=form)


def _issued(html: str) -> tuple[str, str]:
    key = re.search(r'data-testid="issued-key-id">([^<]+)<', html).group(1)
    secret = re.search(r'data-testid="issued-secret-value">([^<]+)<', html).group(1)
    return key, secret


def test_register_issue_sign_rotate_revoke(app, client):
    admin = _officer(app, "sysadmin-x", region=None, role="system_admin")
    bad = _post(
        admin, "/portal/departments", "/portal/departments", {"code": "X", "name": "", "kind": "", "region_code": "99"}
    )
    assert bad.status_code == 422 and "部门代码须为" in bad.get_data(as_text=True)
    created = _post(
        admin,
        "/portal/departments",
        "/portal/departments",
        {"code": "mz-jinxian", "name": "进贤县民政局殡葬股", "kind": "civil_affairs", "region_code": "360124"},
    )
    assert created.status_code == 303
    detail_url = created.headers["Location"]
    department_id = int(detail_url.rsplit("/", 1)[1])
    no_scope = _post(admin, detail_url, f"/portal/departments/{department_id}/clients", {"name": "殡葬管理系统"})
    assert no_scope.status_code == 422 and "请至少选择一个" in no_scope.get_data(as_text=True)
    issued = _post(
        admin,
        detail_url,
        f"/portal/departments/{department_id}/clients",
        [("name", "殡葬管理系统"), ("categories", "deaths"), ("categories", "cremations")],
    )
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    key_id, secret = _issued(issued.get_data(as_text=True))
    assert get(client, "/api/v1/exchange/client", key_id=key_id, secret=secret).json["categories"] == [
        "cremations",
        "deaths",
    ]
    assert secret not in admin.get(detail_url).get_data(as_text=True)  # shown once
    with app.app_context():
        row = db.session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
        assert secret not in row.secret_enc
        client_id = row.id
    rotated = _post(admin, detail_url, f"/portal/departments/clients/{client_id}/rotate", {})
    _, new_secret = _issued(rotated.get_data(as_text=True))
    assert new_secret != secret
    assert get(client, "/api/v1/exchange/client", key_id=key_id, secret=secret).status_code == 200  # grace
    assert get(client, "/api/v1/exchange/client", key_id=key_id, secret=new_secret).status_code == 200
    revoked = _post(admin, detail_url, f"/portal/departments/clients/{client_id}/revoke", {"reason": "系统下线"})
    assert revoked.status_code == 303
    assert get(client, "/api/v1/exchange/client", key_id=key_id, secret=new_secret).status_code == 401
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {
            "exchange.department.create",
            "exchange.client.issue",
            "exchange.client.rotate",
            "exchange.client.revoke",
        } <= actions


def test_other_city_sees_nothing_and_other_roles_are_refused(app):
    admin = _officer(app, "sysadmin-y", region=None, role="system_admin")
    created = _post(
        admin,
        "/portal/departments",
        "/portal/departments",
        {"code": "ga-jinxian", "name": "进贤县公安局", "kind": "public_security", "region_code": "360124"},
    )
    department_url = created.headers["Location"]
    path = department_url[department_url.index("/portal") :]
    own_city = _officer(app, "nanchang-city", region="3601", role="city_admin")
    assert own_city.get(path).status_code == 200
    with app.app_context():  # 九江市, a second city of the province (real code)
        regions.upsert_regions([{"code": "3604", "name": "九江市", "level": "city", "parent_code": "36"}])
        db.session.commit()
    other_city = _officer(app, "jiujiang-city", region="3604", role="city_admin")
    assert other_city.get(path).status_code == 404
    assert "ga-jinxian" not in other_city.get("/portal/departments").get_data(as_text=True)
    county = _officer(app, "jinxian-co", region="360124", role="county_officer")
    assert county.get("/portal/departments").status_code == 403
