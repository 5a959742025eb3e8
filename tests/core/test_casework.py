"""Cases are routed to a township and seen only within the officer's region."""

from __future__ import annotations

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.casework.models import Case
from core.database import db
from tests.helpers import citizen_headers, make_officer, portal_login

MINHE, LIDU, OTHER_COUNTY_TOWNSHIP = "360124100", "360124101", None


def _open(client, headers, township, title="困难家庭"):
    resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": township, "title": title})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_case_opened_through_api_is_routed(client, app):
    headers = citizen_headers(client, "13900001000")
    case = _open(client, headers, MINHE)
    assert case["township_code"] == MINHE and case["status"] == "open" and case["status_label"] == "待办理"
    assert case["due_date"]
    with app.app_context():
        stored = db.session.get(Case, case["id"])
        assert stored.county_code == "360124" and stored.routed_at is not None  # the task ran
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "case.open"))
        assert entry.target_id == str(case["id"]) and entry.region_code == MINHE


def test_case_must_go_to_an_existing_township(client):
    headers = citizen_headers(client, "13900001001")
    for code, message in (("999999999", "行政区划代码 999999999 不存在"), ("36012410", "请选择乡镇（街道）")):
        resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": code, "title": "x"})
        assert resp.status_code == 422
        assert resp.get_json()["errors"]["township_code"] == [message]


def test_citizen_sees_only_own_cases(client):
    a = citizen_headers(client, "13900001002")
    b = citizen_headers(client, "13900001003")
    case = _open(client, a, MINHE)
    assert client.get(f"/api/v1/demo/cases/{case['id']}", headers=a).status_code == 200
    assert client.get(f"/api/v1/demo/cases/{case['id']}", headers=b).status_code == 404
    assert client.get("/api/v1/demo/cases", headers=b).get_json() == []


def test_my_cases_paginated(client):
    headers = citizen_headers(client, "13900001004")
    for n in range(5):
        _open(client, headers, MINHE, title=f"事项{n}")
    resp = client.get("/api/v1/demo/cases?page=2&page_size=2", headers=headers)
    assert resp.status_code == 200
    assert [c["title"] for c in resp.get_json()] == ["事项2", "事项1"]
    pagination = resp.headers["X-Pagination"]
    assert '"total": 5' in pagination and '"total_pages": 3' in pagination
    too_big = client.get("/api/v1/demo/cases?page_size=1000", headers=headers)
    assert too_big.status_code == 422
    assert too_big.get_json()["errors"]["page_size"] == ["应在1到100之间"]


def test_township_scope_in_portal(client, app):
    headers = citizen_headers(client, "13900001005")
    minhe_case = _open(client, headers, MINHE, "民和镇的事项")
    lidu_case = _open(client, headers, LIDU, "李渡镇的事项")
    secrets = {
        "x": make_officer(app, "officer_x", "township_officer", MINHE),
        "county": make_officer(app, "county_a", "county_officer", "360124"),
        "other_county": make_officer(app, "county_b", "county_officer", "360121"),
    }
    with app.test_client() as officer_x:
        assert portal_login(officer_x, "officer_x", secrets["x"]).status_code == 302
        page = officer_x.get("/portal/queue").get_data(as_text=True)
        assert "民和镇的事项" in page and "李渡镇的事项" not in page
        assert officer_x.get(f"/portal/cases/{minhe_case['id']}").status_code == 200
        assert officer_x.get(f"/portal/cases/{lidu_case['id']}").status_code == 404
    with app.test_client() as county:
        assert portal_login(county, "county_a", secrets["county"]).status_code == 302
        page = county.get("/portal/queue").get_data(as_text=True)
        assert "民和镇的事项" in page and "李渡镇的事项" in page
        filtered = county.get(f"/portal/queue?township={LIDU}").get_data(as_text=True)
        assert "李渡镇的事项" in filtered and "民和镇的事项" not in filtered
    with app.test_client() as other:
        assert portal_login(other, "county_b", secrets["other_county"]).status_code == 302
        page = other.get("/portal/queue").get_data(as_text=True)
        assert "暂无待办事项" in page
        assert other.get(f"/portal/cases/{minhe_case['id']}").status_code == 404


def test_queue_is_paginated_newest_first_when_asked(client, app):
    headers = citizen_headers(client, "13900001006")
    app.config["PORTAL_PAGE_SIZE"] = 3
    try:
        for n in range(7):
            _open(client, headers, MINHE, f"第{n}件")
        secret = make_officer(app, "officer_p", "township_officer", MINHE)
        with app.test_client() as officer:
            portal_login(officer, "officer_p", secret)
            first = officer.get("/portal/queue?sort=new").get_data(as_text=True)
            assert "共 7 件" in first and "第 1 / 3 页" in first
            assert first.index("第6件") < first.index("第5件") < first.index("第4件")
            assert "第3件" not in first
            last = officer.get("/portal/queue?sort=new&page=3").get_data(as_text=True)
            assert "第0件" in last and "第1件" not in last
    finally:
        app.config["PORTAL_PAGE_SIZE"] = 20
