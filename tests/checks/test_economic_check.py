"""The per-application economic check: it runs only once every adult has authorized, grades the
household by the county's model with each reason traced to rows, is shown to officers of the region only
(audited with purpose), and tells the applicant only neutral words."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.applications.models import Application
from core.audit.models import AuditEntry
from core.authorizations.models import AuthorizationRequest
from core.bulk import sources
from core.checks import services as checks
from core.checks.models import AssessmentModel, EconomicCheck
from core.database import commit, db
from tests.checks.parquet_fixtures import write
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    id_number,
    make_officer,
    portal_login,
    submitted_application,
)

ZHAO = ("赵建国", id_number(date(1965, 3, 2), 21))
SPOUSE = ("钱秀英", id_number(date(1967, 8, 9), 22))
NAMESAKE = id_number(date(1965, 3, 2), 23)  # another 赵建国


@pytest.fixture
def department_files(tmp_path, monkeypatch):
    root = str(tmp_path)
    src = {
        "vehicles": [
            write(
                root,
                "vehicles",
                [
                    {
                        "id_number": SPOUSE[1],
                        "plate_no": "赣A88888",
                        "vehicle_type": "car",
                        "registered_on": "2024-05-01",
                        "status": "normal",
                    },
                    {
                        "id_number": NAMESAKE,
                        "plate_no": "赣A99999",
                        "vehicle_type": "car",
                        "registered_on": "2024-05-01",
                        "status": "normal",
                    },
                ],
                load_id=31,
            )
        ],
        "wages": [
            write(
                root,
                "wages",
                [
                    {"id_number": ZHAO[1], "employer": "某厂", "month": f"2026-{m:02d}-01", "amount": "900"}
                    for m in range(1, 12)
                ],
                load_id=32,
            )
        ],
    }
    fresh = [
        {
            "category": "vehicles",
            "name": "机动车登记",
            "available": True,
            "latest_effective_date": "2026-11-01",
            "refresh_days": 31,
            "stale": False,
            "rows": 2,
        },
        {
            "category": "wages",
            "name": "工资收入",
            "available": True,
            "latest_effective_date": "2026-11-01",
            "refresh_days": 31,
            "stale": False,
            "rows": 11,
        },
    ]
    monkeypatch.setattr(sources, "current", lambda categories: src)
    monkeypatch.setattr(sources, "freshness", lambda categories: fresh)
    return src


def _officer(app, username, region="360124100", role="township_officer"):
    secret = make_officer(app, username, role, region)
    officer = app.test_client()
    assert portal_login(officer, username, secret).status_code == 302
    return officer


def _application(client, app, officer):
    headers = bound_citizen(client, "13900061000", *ZHAO)
    body = draft_body(
        *ZHAO,
        extra_members=[
            {
                "name": SPOUSE[0],
                "id_number": SPOUSE[1],
                "relation": "spouse",
                "health": "healthy",
                "employment": "unemployed",
            }
        ],
    )
    submitted = submitted_application(client, headers, body)
    page = officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    assert (
        officer.post(
            f"/portal/applications/{submitted['id']}/accept", data={"csrf_token": csrf_token(page)}
        ).status_code
        == 302
    )
    return headers, submitted["id"]


def _window(officer, app, application_id, *, only_first=False):
    import io

    from tests.helpers import png_bytes

    page = officer.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    with app.app_context():
        ids = db.session.scalars(
            select(AuthorizationRequest.id)
            .where(
                AuthorizationRequest.application_id == application_id,
                AuthorizationRequest.status.not_in(("revoked", "authorized", "offline")),
            )
            .order_by(AuthorizationRequest.id)
        ).all()
        db.session.remove()
    for request_id in ids[:1] if only_first else ids:
        resp = officer.post(
            f"/portal/applications/{application_id}/authorizations/{request_id}/window",
            data={"csrf_token": csrf_token(page), "scan": (io.BytesIO(png_bytes()), "letter.png")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 302


def _checks(app, application_id):
    with app.app_context():
        rows = list(db.session.scalars(select(EconomicCheck).where(EconomicCheck.application_id == application_id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_the_check_waits_for_every_adult_then_grades_with_traceable_reasons(client, app, department_files):
    officer = _officer(app, "minhe-check")
    headers, app_id = _application(client, app, officer)
    _window(officer, app, app_id, only_first=True)
    assert _checks(app, app_id) == []  # one adult still to authorize: nothing looked up
    _window(officer, app, app_id)
    [check] = _checks(app, app_id)
    assert (check.status, check.grade) == ("done", "red")
    codes = {r["code"]: r for r in check.reasons}
    # the spouse's car exceeds the default limit of none; the row is named
    assert codes["vehicles"]["rows"] == [{"category": "vehicles", "load_id": 31, "row_no": 1, "member": 1}]
    # wages: 11 × 900 / 12 months / 2 members = 412.50 a head, above the declared 150.00 by more than 20 % of 800
    assert codes["income_above_declared"]["level"] == "yellow"
    assert check.figures["income_found_per_capita"] == pytest.approx(412.5)
    # the namesake's car is nobody's in this household
    assert check.findings["0"]["categories"].get("vehicles") is None
    assert check.findings["1"]["categories"]["vehicles"]["count"] == 1
    with app.app_context():
        lookup = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "checks.lookup"))
        assert lookup.detail["purpose"] == checks.PURPOSE and lookup.detail["members"] == 2
    # the report in the 信息核对 step, its PDF, and the applicant's neutral summary
    page = officer.get(f"/portal/applications/{app_id}/check").get_data(as_text=True)
    assert "红色（超出标准）" in page and "机动车登记 批次31 第1行" in page
    pdf = officer.get(f"/portal/applications/{app_id}/check.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    mine = client.get(f"/api/v1/applications/{app_id}", headers=headers).json
    assert mine["economic_check"]["status"] == "done"
    assert "入户调查" in mine["economic_check"]["summary"]
    assert "红" not in mine["economic_check"]["summary"] and "车" not in mine["economic_check"]["summary"]
    with app.app_context():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "checks.view")).detail["purpose"]


def test_conclusion_and_recheck_and_the_county_model(client, app, department_files):
    officer = _officer(app, "minhe-check2")
    _, app_id = _application(client, app, officer)
    _window(officer, app, app_id)
    page = officer.get(f"/portal/applications/{app_id}/check").get_data(as_text=True)
    resp = officer.post(
        f"/portal/applications/{app_id}/check/conclusion",
        data={"csrf_token": csrf_token(page), "conclusion": "explain", "note": "车辆为亲属借用，入户核实"},
    )
    assert resp.status_code == 302
    # the county allows one car: a re-check grades by the new model
    with app.app_context():
        db.session.add(AssessmentModel(region_code="360124", config={"limits": {"vehicles": 1}}, version=2))
        commit()
    assert (
        officer.post(f"/portal/applications/{app_id}/check/recheck", data={"csrf_token": csrf_token(page)}).status_code
        == 302
    )
    first, second = _checks(app, app_id)
    assert first.conclusion == "explain" and second.trigger == "recheck"
    assert (second.status, second.grade, second.model_region, second.model_version) == ("done", "yellow", "360124", 2)


def test_no_lookup_when_an_authorization_is_missing_at_run_time(client, app, department_files):
    officer = _officer(app, "minhe-check3")
    _, app_id = _application(client, app, officer)
    with app.app_context():
        application = db.session.get(Application, app_id)
        check = EconomicCheck(application_id=app_id, status="queued", trigger="recheck")
        db.session.add(check)
        commit()
        checks.run(check.id)
        commit()
        assert check.status == "blocked" and check.findings is None
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "checks.lookup")) is None
        assert application.id == app_id


def test_another_countys_officer_never_sees_the_report(client, app, department_files):
    officer = _officer(app, "minhe-check4")
    _, app_id = _application(client, app, officer)
    _window(officer, app, app_id)
    stranger = _officer(app, "other-county-check", region="360121", role="county_officer")
    assert stranger.get(f"/portal/applications/{app_id}/check").status_code == 404
    assert stranger.get(f"/portal/applications/{app_id}/check.pdf").status_code == 404
    page = stranger.get("/portal/antifraud").get_data(as_text=True)
    assert (
        stranger.post(f"/portal/applications/{app_id}/check/recheck", data={"csrf_token": csrf_token(page)}).status_code
        == 404
    )
    assert len(_checks(app, app_id)) == 1
