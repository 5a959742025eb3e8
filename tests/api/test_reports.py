"""One-tap reports: routing, idempotency, duplicates, caps, privacy, the township's response, escalation."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

from PIL import Image
from sqlalchemy import func, select

from core import clock
from core.casework.models import Case
from core.database import db
from core.reports.models import Report
from tests.helpers import (
    bound_citizen,
    citizen_headers,
    csrf_token,
    id_number,
    jpeg_bytes,
    make_officer,
    portal_login,
)

PERSON = ("刘奶奶", id_number(date(1938, 6, 1), 55))


def _grid_worker(client, app, phone="13900040000", region="360124100"):
    headers = bound_citizen(client, phone, "网格员甲", id_number(date(1985, 3, 3), int(phone[-3:]) % 997))
    result = app.test_cli_runner().invoke(
        args=["users", "grant-role", "--phone", phone, "--role", "grid_worker", "--region", region]
    )
    assert result.exit_code == 0, result.output
    return headers


def _report(client, headers, **extra):
    body = {"category": "elderly_alone", "township_code": "360124100", **extra}
    return client.post("/api/v1/reports", headers=headers, json=body)


def _officer(app, username, region="360124100", role="township_officer"):
    secret = make_officer(app, username, role, region)
    officer = app.test_client()
    assert portal_login(officer, username, secret).status_code == 302
    return officer


def _post(officer, url, page_url=None, **data):
    page = officer.get(page_url or url.rsplit("/", 1)[0]).get_data(as_text=True)
    return officer.post(url, data={**data, "csrf_token": csrf_token(page)})


def test_categories_are_public(client):
    body = client.get("/api/v1/report-categories").get_json()
    assert {"code": "child_without_carer", "label": "事实无人抚养儿童"} in body["categories"]
    assert {"code": "grid_worker", "label": "网格员"} in body["reporter_roles"]


def test_grid_worker_report_lands_in_exactly_that_township(client, app):
    headers = _grid_worker(client, app)
    resp = _report(
        client,
        headers,
        village_code="360124100001",
        urgency="urgent",
        latitude=28.3766,
        longitude=116.2671,
        coordinate_system="gcj02",
        person_name=PERSON[0],
        description="独居，行动不便",
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["reporter_role"] == "grid_worker" and body["status_label"] == "待联系"
    assert body["message"] == "您报告的困难情况已由民和镇受理"
    with app.app_context():
        cases = db.session.scalars(select(Case).where(Case.subject_type == "report")).all()
        assert [(c.township_code, c.subject_id) for c in cases] == [("360124100", body["id"])]
        report = db.session.get(Report, body["id"])
        # urgent: first contact within 1 working day
        from core import workdays

        assert report.first_contact_due == workdays.add_working_days(clock.local_today(), 1)
    minhe = _officer(app, "r_minhe")
    assert body["reference"] in minhe.get("/portal/reports").get_data(as_text=True)
    lidu = _officer(app, "r_lidu", region="360124101")
    assert body["reference"] not in lidu.get("/portal/reports").get_data(as_text=True)
    assert lidu.get(f"/portal/reports/{body['id']}").status_code == 404


def test_replayed_idempotency_key_returns_the_first_report(client, app):
    headers = {**_grid_worker(client, app), "Idempotency-Key": str(uuid.uuid4())}
    first = _report(client, headers, person_name=PERSON[0])
    second = _report(client, headers, person_name=PERSON[0])
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"] and second.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 1


def test_second_report_about_the_same_person_is_linked(client, app):
    a = _grid_worker(client, app)
    first = _report(client, a, person_id_number=PERSON[1]).get_json()
    b = citizen_headers(client, "13900040100")
    second = _report(client, b, person_id_number=PERSON[1].lower(), category="serious_illness")
    assert second.status_code == 201
    body = second.get_json()
    assert body["is_duplicate"] is True
    assert body["message"] == "该困难情况已有人报告，民和镇正在处理，感谢您的关心"
    assert first["reference"] not in str(body)  # the reporter learns nothing about the other report
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case).where(Case.subject_type == "report")) == 1
        assert db.session.get(Report, body["id"]).duplicate_of_id == first["id"]
    # same name in the same village counts too
    third = _report(client, citizen_headers(client, "13900040101"), person_name="张三", village_code="360124100002")
    fourth = _report(client, citizen_headers(client, "13900040102"), person_name="张三", village_code="360124100002")
    assert third.get_json()["is_duplicate"] is False and fourth.get_json()["is_duplicate"] is True


def test_officer_marks_and_unmarks_duplicates(client, app):
    a = _report(client, citizen_headers(client, "13900040103"), person_name="王某").get_json()
    b = _report(client, citizen_headers(client, "13900040104"), person_name="王某某").get_json()
    officer = _officer(app, "r_dup")
    assert _post(officer, f"/portal/reports/{b['id']}/duplicate", of_reference=a["reference"]).status_code == 302
    page = officer.get(f"/portal/reports/{a['id']}").get_data(as_text=True)
    assert b["reference"] in page
    assert _post(officer, f"/portal/reports/{b['id']}/duplicate", action="unmark").status_code == 302
    with app.app_context():
        report = db.session.get(Report, b["id"])
        assert report.duplicate_of_id is None and db.session.get(Case, report.case_id).status == "open"


def test_reporter_cannot_read_others_reports_or_photos(client, app):
    a = citizen_headers(client, "13900040105")
    b = citizen_headers(client, "13900040106")
    report = _report(client, a, person_name=PERSON[0]).get_json()
    photo = client.post(
        f"/api/v1/reports/{report['id']}/photos",
        headers=a,
        data={"file": (io.BytesIO(jpeg_bytes(with_gps=True)), "p.jpg")},
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201
    photo_id = photo.get_json()["id"]
    assert client.get(f"/api/v1/reports/{report['id']}", headers=b).status_code == 404
    assert client.get(f"/api/v1/reports/{report['id']}/photos/{photo_id}", headers=b).status_code == 404
    assert (
        client.post(
            f"/api/v1/reports/{report['id']}/photos",
            headers=b,
            data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg")},
            content_type="multipart/form-data",
        ).status_code
        == 404
    )
    assert client.get("/api/v1/reports", headers=b).get_json() == []
    own = client.get(f"/api/v1/reports/{report['id']}/photos/{photo_id}", headers=a)
    assert own.status_code == 200 and not Image.open(io.BytesIO(own.data)).getexif()  # GPS gone
    officer = _officer(app, "r_photo")
    assert officer.get(f"/portal/reports/{report['id']}/photos/{photo_id}").status_code == 200
    other_officer = _officer(app, "r_photo_other", region="360124101")
    assert other_officer.get(f"/portal/reports/{report['id']}/photos/{photo_id}").status_code == 404


def test_resident_over_the_daily_cap_gets_429(client, app):
    headers = citizen_headers(client, "13900040107")
    for n in range(3):
        assert _report(client, headers, person_name=f"甲{n}").status_code == 201
    resp = _report(client, headers, person_name="甲9")
    assert resp.status_code == 429
    assert resp.get_json()["message"].startswith("今日报告次数已达上限（3次）")
    clock.set_offset(timedelta(days=1, minutes=1))
    headers = citizen_headers(client, "13900040107")  # the next day: a new log-in
    assert _report(client, headers, person_name="甲10").status_code == 201


def test_bad_input_is_422_with_the_field(client):
    headers = citizen_headers(client, "13900040108")
    cases = [
        ({"latitude": float("nan"), "longitude": 116.0, "coordinate_system": "wgs84"}, "latitude"),
        ({"latitude": 91.0, "longitude": 116.0, "coordinate_system": "wgs84"}, "latitude"),
        ({"latitude": 28.0, "longitude": 181.0, "coordinate_system": "wgs84"}, "longitude"),
        ({"latitude": 28.0, "longitude": 116.0}, "coordinate_system"),
        ({"latitude": 28.0}, "longitude"),
        ({"township_code": "999999999"}, "township_code"),
        ({"township_code": "360124"}, "township_code"),
        ({"village_code": "360124101001"}, "village_code"),
        ({"person_id_number": PERSON[1][:-1] + ("0" if PERSON[1][-1] != "0" else "1")}, "person_id_number"),
        ({"category": "boredom"}, "category"),
        ({"as_role": "official"}, "as_role"),
        ({"reporter_user_id": 1}, "reporter_user_id"),
    ]
    for extra, field in cases:
        resp = _report(client, headers, **extra)
        assert resp.status_code == 422, (extra, resp.get_json())
        assert field in resp.get_json()["errors"], (extra, resp.get_json())
    photo_report = _report(client, headers).get_json()
    fake = client.post(
        f"/api/v1/reports/{photo_report['id']}/photos",
        headers=headers,
        data={"file": (io.BytesIO(b"%PDF-1.4 not a photo"), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422 and fake.get_json()["errors"]["file"] == ["只能上传JPG、PNG格式的文件"]


def test_overdue_first_contact_escalates_once(client, app):
    report = _report(client, citizen_headers(client, "13900040109"), person_name="赵某").get_json()
    runner = app.test_cli_runner()
    assert "escalated 0" in runner.invoke(args=["reports", "escalate"]).output
    clock.set_offset(timedelta(days=10))  # well past 3 working days
    assert "escalated 1" in runner.invoke(args=["reports", "escalate"]).output
    assert "escalated 0" in runner.invoke(args=["reports", "escalate"]).output  # idempotent
    county = _officer(app, "r_county", region="360124", role="county_officer")
    page = county.get("/portal/reports/overdue").get_data(as_text=True)
    assert report["reference"] in page
    other = _officer(app, "r_other_county", region="360121", role="county_officer")
    assert report["reference"] not in other.get("/portal/reports/overdue").get_data(as_text=True)
    township = _officer(app, "r_town")
    listing = township.get("/portal/reports?overdue=1").get_data(as_text=True)
    assert report["reference"] in listing and "（已超时）" in listing


def test_response_and_feedback_to_the_reporter(client, app):
    reporter = _grid_worker(client, app, phone="13900040110")
    report = _report(client, reporter, person_name=PERSON[0]).get_json()
    officer = _officer(app, "r_resp")
    assert _post(officer, f"/portal/reports/{report['id']}/step", step="contacted").status_code == 302
    assert _post(officer, f"/portal/reports/{report['id']}/step", step="visited").status_code == 302
    assert _post(officer, f"/portal/reports/{report['id']}/step", step="contacted").status_code == 409
    refused = _post(officer, f"/portal/reports/{report['id']}/refer", program="dibao")
    assert refused.status_code == 422 and "身份证号码" in refused.get_data(as_text=True)
    _post(officer, f"/portal/reports/{report['id']}/person", person_name=PERSON[0], person_id_number=PERSON[1])
    assert _post(officer, f"/portal/reports/{report['id']}/refer", program="dibao").status_code == 302
    detail = client.get(f"/api/v1/reports/{report['id']}", headers=reporter).get_json()
    assert detail["status"] == "closed" and detail["outcome_label"] == "已转入救助申请"
    assert [p["text"] for p in detail["progress"]] == [
        "您报告的困难情况已由民和镇受理",
        "民和镇已上门走访",
        "已办结：已转入救助申请",
    ]
    assert "person_id_number" not in detail and PERSON[1] not in str(detail)
    with app.app_context():
        stored = db.session.get(Report, report["id"])
        from core.applications.models import Application

        application = db.session.get(Application, stored.application_id)
        assert (
            application.status == "submitted" and application.is_proxy and application.applicant_id_number == PERSON[1]
        )
        case = db.session.get(Case, application.case_id)
        assert case.township_code == "360124100" and case.kind == "application"
        # the officer's identification linked the report to the registry's person, with the report as source
        from core.registry.models import Person, PersonFact

        person = db.session.get(Person, stored.person_id)
        assert person is not None and person.id_number == PERSON[1] and person.name == PERSON[0]
        sources = {(f.source_type, f.source_id) for f in db.session.scalars(select(PersonFact))}
        assert ("report", str(report["id"])) in sources
    # the person, logging in with her own identity, finds the application started for her
    her = bound_citizen(client, "13900040111", *PERSON)
    mine = client.get("/api/v1/applications", headers=her).get_json()
    assert [a["reference"] for a in mine] == [application.reference]


def test_reporter_roles_granted_in_the_portal(client, app):
    headers = citizen_headers(client, "13900040112")
    officer = _officer(app, "r_grant")
    resp = _post(
        officer, "/portal/reporters", "/portal/reporters", phone="13900040112", role="volunteer", region="360124100"
    )
    assert resp.status_code == 302
    assert client.get("/api/v1/me", headers=headers).get_json()["roles"][0]["role"] == "volunteer"
    outside = _post(
        officer, "/portal/reporters", "/portal/reporters", phone="13900040112", role="grid_worker", region="360124101"
    )
    assert outside.status_code == 403
    assert _report(client, headers, as_role="volunteer").get_json()["reporter_role"] == "volunteer"
