"""The township workflow: parallel investigation, clocks in working days, public notice and objections,
county confirmation, claims and conflicts, escalation, and what the citizen sees."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from core import clock
from core.casework.models import Case, CaseStep
from core.clock import SHANGHAI
from core.database import db
from core.notifications.models import OutboxMessage
from tests.helpers import (
    bound_citizen,
    citizen_headers,
    csrf_token,
    draft_body,
    home_visit_files,
    id_number,
    make_officer,
    portal_login,
    submitted_application,
)

ZHANG = ("张建国", id_number(date(1962, 4, 18), 11))


def _long_sessions(app, monkeypatch):
    """These tests move the clock by days; the portal's idle and absolute time-outs are tested elsewhere."""
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24 * 60)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24 * 60)


def _officer(app, username, region="360124100", role="township_officer"):
    secret = make_officer(app, username, role, region)
    officer = app.test_client()
    assert portal_login(officer, username, secret).status_code == 302
    return officer


def _steps(app, application_id) -> dict[str, CaseStep]:
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject_id == application_id, Case.kind == "application"))
        rows = {s.step: s for s in db.session.scalars(select(CaseStep).where(CaseStep.case_id == case.id))}
        db.session.remove()
        return rows


def _act(officer, application_id, step: CaseStep, action, **data):
    page = officer.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    return officer.post(
        f"/portal/applications/{application_id}/steps/{step.id}/{action}",
        data={"csrf_token": csrf_token(page), "version": step.version, **data},
    )


def _accepted(client, app, officer, phone="13900050000"):
    headers = bound_citizen(client, phone, *ZHANG)
    submitted = submitted_application(client, headers, draft_body(*ZHANG))
    page = officer.get(f"/portal/applications/{submitted['id']}").get_data(as_text=True)
    resp = officer.post(f"/portal/applications/{submitted['id']}/accept", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    return headers, submitted["id"]


def _window_authorize(officer, app, application_id):
    """Every adult member signs the paper letter at the township window (the non-face path)."""
    import io

    from core.authorizations.models import AuthorizationRequest
    from tests.helpers import png_bytes

    page = officer.get(f"/portal/applications/{application_id}").get_data(as_text=True)
    with app.app_context():
        ids = db.session.scalars(
            select(AuthorizationRequest.id).where(AuthorizationRequest.application_id == application_id)
        ).all()
        db.session.remove()
    assert ids
    for request_id in ids:
        resp = officer.post(
            f"/portal/applications/{application_id}/authorizations/{request_id}/window",
            data={"csrf_token": csrf_token(page), "scan": (io.BytesIO(png_bytes()), "letter.png")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)


def _investigate(officer, app, application_id):
    _window_authorize(officer, app, application_id)
    steps = _steps(app, application_id)
    assert (
        _act(
            officer,
            application_id,
            steps["home_visit"],
            "investigate",
            investigator_1="王一",
            investigator_2="李二",
            findings="家中无劳动力",
            **home_visit_files(),
        ).status_code
        == 302
    )
    steps = _steps(app, application_id)
    assert _act(officer, application_id, steps["data_check"], "investigate", findings="无房产车辆").status_code == 302


def test_investigation_steps_run_in_parallel_and_review_waits_for_both(client, app):
    officer = _officer(app, "wf_a")
    _, app_id = _accepted(client, app, officer)
    steps = _steps(app, app_id)
    assert {k: s.status for k, s in steps.items()} == {
        "accept": "done",
        "data_check": "ready",
        "home_visit": "ready",
        "review": "waiting",
        "public_notice": "waiting",
        "confirmation": "waiting",
    }
    # the home visit is recorded before the data check finishes
    resp = _act(
        officer,
        app_id,
        steps["home_visit"],
        "investigate",
        investigator_1="王一",
        investigator_2="李二",
        findings="住房简陋",
        **home_visit_files(),
    )
    assert resp.status_code == 302
    steps = _steps(app, app_id)
    assert steps["home_visit"].status == "done" and steps["data_check"].status == "ready"
    assert steps["review"].status == "waiting"
    blocked = _act(officer, app_id, steps["data_check"], "investigate", findings="无异常")
    assert blocked.status_code == 422 and "张建国尚未完成授权" in blocked.get_data(as_text=True)
    _window_authorize(officer, app, app_id)
    steps = _steps(app, app_id)
    assert _act(officer, app_id, steps["data_check"], "investigate", findings="无异常").status_code == 302
    steps = _steps(app, app_id)
    assert steps["review"].status == "ready" and steps["review"].due_date is not None


def test_home_visit_needs_two_investigators_and_signatures(client, app):
    officer = _officer(app, "wf_b")
    _, app_id = _accepted(client, app, officer)
    resp = _act(
        officer,
        app_id,
        _steps(app, app_id)["home_visit"],
        "investigate",
        investigator_1="王一",
        investigator_2="王一",
        findings="x",
    )
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert "入户调查须由两名工作人员进行" in text and "请拍摄或上传至少一张入户照片" in text
    assert "请在签名框内签字" in text
    assert _steps(app, app_id)["home_visit"].status != "done"


def test_due_dates_across_national_day_2026(client, app):
    # accepted on Wednesday 30 September 2026: 10 working days skip 1-7 October, count Saturday 10 October
    target = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    clock.set_offset(target - datetime.now(SHANGHAI))
    officer = _officer(app, "wf_c")
    _, app_id = _accepted(client, app, officer)
    steps = _steps(app, app_id)
    assert steps["data_check"].due_date == date(2026, 10, 20)
    assert steps["home_visit"].due_date == date(2026, 10, 20)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject_id == app_id, Case.kind == "application"))
        # 30 working days from 30 September 2026
        assert case.limit_date == date(2026, 11, 17)


def _to_notice(client, app, officer, phone):
    headers, app_id = _accepted(client, app, officer, phone)
    _investigate(officer, app, app_id)
    steps = _steps(app, app_id)
    assert (
        _act(
            officer, app_id, steps["review"], "review", opinion="符合条件", recommendation="approve", amount="650"
        ).status_code
        == 302
    )
    assert _act(officer, app_id, _steps(app, app_id)["public_notice"], "notice_start").status_code == 302
    return headers, app_id


def test_objection_in_public_notice_returns_the_case_to_review(client, app):
    officer = _officer(app, "wf_d")
    headers, app_id = _to_notice(client, app, officer, "13900050001")
    assert client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()["status"] == "public_notice"
    notice = _steps(app, app_id)["public_notice"]
    early = _act(officer, app_id, notice, "notice_finish")
    assert early.status_code == 409 and "期满后才能结束公示" in early.get_data(as_text=True)
    resp = _act(
        officer, app_id, _steps(app, app_id)["public_notice"], "objection", objection="其子女有稳定收入", upheld="1"
    )
    assert resp.status_code == 302
    steps = _steps(app, app_id)
    assert steps["review"].status == "ready" and steps["public_notice"].status == "waiting"
    detail = client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()
    assert detail["status"] == "reviewing"
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert timeline[-1]["text"] == "公示期间收到异议，经核实需重新审核"


def test_county_confirms_and_the_citizen_sees_every_step(client, app, monkeypatch):
    _long_sessions(app, monkeypatch)
    officer = _officer(app, "wf_e")
    headers, app_id = _to_notice(client, app, officer, "13900050002")
    clock.set_offset(timedelta(days=8))
    assert _act(officer, app_id, _steps(app, app_id)["public_notice"], "notice_finish").status_code == 302
    confirmation = _steps(app, app_id)["confirmation"]
    denied = _act(officer, app_id, confirmation, "decide", result="approve", amount="650", start_month="2026-12")
    assert denied.status_code == 403  # a township officer cannot confirm
    county = _officer(app, "wf_county", region="360124", role="county_officer")
    bad = _act(county, app_id, _steps(app, app_id)["confirmation"], "decide", result="approve", amount="-5")
    assert bad.status_code == 422 and "金额应大于0" in bad.get_data(as_text=True)
    ok = _act(
        county,
        app_id,
        _steps(app, app_id)["confirmation"],
        "decide",
        result="approve",
        amount="650",
        start_month="2026-12",
    )
    assert ok.status_code == 302
    headers = citizen_headers(client, "13900050002")  # a week later: the citizen logs in again
    detail = client.get(f"/api/v1/applications/{app_id}", headers=headers).get_json()
    assert detail["status"] == "approved" and detail["status_label"] == "已批准"
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert [e["status"] for e in timeline] == [
        "submitted",
        "accepted",
        "investigating",
        "investigating",
        "investigating",
        "reviewing",
        "reviewing",
        "public_notice",
        "public_notice",
        "awaiting_confirmation",
        "approved",
    ]
    assert [e["kind"] for e in timeline][2:] == [
        "investigation_started",
        "home_visit_done",
        "data_check_done",
        "review_started",
        "review_done",
        "notice_started",
        "public_notice_done",
        "confirmation_started",
        "approved",
    ]
    assert timeline[-1]["text"] == "您的最低生活保障申请已批准：每月650.00元，自2026年12月起发放"
    with app.app_context():
        sent = db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.template == "application_status", OutboxMessage.recipient == "13900050002")
        )
        assert sent == len(timeline)  # every step reached the citizen's notifications


def test_rejection_tells_why_and_how_to_object(client, app, monkeypatch):
    _long_sessions(app, monkeypatch)
    township = _officer(app, "wf_f")
    from core.actor import SYSTEM
    from core.applications import settings

    with app.app_context():
        settings.set_program_setting(SYSTEM, "360124", "dibao", confirmation_delegated=True)
        db.session.commit()
    headers, app_id = _to_notice(client, app, township, "13900050003")
    clock.set_offset(timedelta(days=8))
    _act(township, app_id, _steps(app, app_id)["public_notice"], "notice_finish")
    resp = _act(
        township,
        app_id,
        _steps(app, app_id)["confirmation"],
        "decide",
        result="reject",
        reason="家庭人均收入高于当地低保标准",
    )
    assert resp.status_code == 302  # delegated: the township confirms
    headers = citizen_headers(client, "13900050003")
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert "家庭人均收入高于当地低保标准" in timeline[-1]["text"] and "行政复议" in timeline[-1]["text"]


def test_claims_conflicts_and_scope(client, app, monkeypatch):
    _long_sessions(app, monkeypatch)
    first = _officer(app, "wf_g")
    second = _officer(app, "wf_h")
    _, app_id = _accepted(client, app, first, "13900050004")
    home_visit = _steps(app, app_id)["home_visit"]
    assert _act(first, app_id, home_visit, "claim").status_code == 302
    taken = _act(second, app_id, _steps(app, app_id)["home_visit"], "claim")
    assert taken.status_code == 409 and "已由其他经办人员领取" in taken.get_data(as_text=True)
    # two officers save the same step from the same page version: the second is told, nothing overwritten
    _window_authorize(first, app, app_id)
    data_check = _steps(app, app_id)["data_check"]
    assert _act(first, app_id, data_check, "investigate", findings="第一人结果").status_code == 302
    stale = _act(second, app_id, data_check, "investigate", findings="第二人结果")
    assert stale.status_code == 409 and "已被他人修改" in stale.get_data(as_text=True)
    assert _steps(app, app_id)["data_check"].data["findings"] == "第一人结果"
    other_township = _officer(app, "wf_i", region="360124101")
    assert _act(other_township, app_id, home_visit, "claim").status_code == 404
    # a stale claim can be taken over by a supervisor, not by a peer
    clock.set_offset(timedelta(hours=9))
    assert _act(second, app_id, _steps(app, app_id)["home_visit"], "claim").status_code == 409
    county = _officer(app, "wf_county2", region="360124", role="county_officer")
    assert _act(county, app_id, _steps(app, app_id)["home_visit"], "claim").status_code == 302


def test_deadlines_job_escalates_once_and_county_sees_overdue(client, app, monkeypatch):
    _long_sessions(app, monkeypatch)
    officer = _officer(app, "wf_j")
    _accepted(client, app, officer, "13900050005")
    from core.actor import SYSTEM
    from core.desk import deadlines

    clock.set_offset(timedelta(days=30))
    with app.app_context():
        first = deadlines.check(SYSTEM)
        db.session.commit()
        second = deadlines.check(SYSTEM)
        db.session.commit()
        assert first["escalated_cases"] == 1 and first["overdue_steps"] == 2
        assert second["escalated_cases"] == 0 and second["overdue_steps"] == 0
        digests = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "daily_digest")
        )
        assert digests == first["digests"] >= 1
    county = _officer(app, "wf_county3", region="360124", role="county_officer")
    page = county.get("/portal/queue?bucket=overdue").get_data(as_text=True)
    assert "共 1 件" in page and "已上报县级" in page
    other_county = _officer(app, "wf_county4", region="360121", role="county_officer")
    assert "共 0 件" in other_county.get("/portal/queue?bucket=overdue").get_data(as_text=True)


def test_extension_once(client, app):
    officer = _officer(app, "wf_k")
    headers, app_id = _accepted(client, app, officer, "13900050006")
    page = officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    resp = officer.post(
        f"/portal/applications/{app_id}/extend", data={"csrf_token": csrf_token(page), "reason": "需补充核对银行存款"}
    )
    assert resp.status_code == 302
    again = officer.post(
        f"/portal/applications/{app_id}/extend", data={"csrf_token": csrf_token(page), "reason": "再次"}
    )
    assert again.status_code == 409
    timeline = client.get(f"/api/v1/applications/{app_id}/timeline", headers=headers).get_json()
    assert timeline[-1]["text"].startswith("因需补充核对银行存款，办理期限延长15个工作日")


def test_queue_buckets_search_assign_and_export(client, app):
    officer = _officer(app, "wf_l")
    _, app_id = _accepted(client, app, officer, "13900050007")
    page = officer.get("/portal/queue?bucket=investigating").get_data(as_text=True)
    assert "共 1 件" in page and 'data-testid="bucket-investigating"' in page
    masked = ZHANG[1][:4] + "**********" + ZHANG[1][-4:]
    assert "共 1 件" in officer.get(f"/portal/queue?q={masked}").get_data(as_text=True)
    assert "共 1 件" in officer.get(f"/portal/queue?q={ZHANG[0]}").get_data(as_text=True)
    assert "共 0 件" in officer.get("/portal/queue?q=不存在的人").get_data(as_text=True)
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.subject_id == app_id, Case.kind == "application"))
        from core.accounts.models import Officer

        colleague = make_officer(app, "wf_m", "township_officer", "360124100") and db.session.scalar(
            select(Officer.id).where(Officer.username == "wf_m")
        )
        outsider = make_officer(app, "wf_n", "township_officer", "360124101") and db.session.scalar(
            select(Officer.id).where(Officer.username == "wf_n")
        )
    token = csrf_token(officer.get("/portal/queue").get_data(as_text=True))
    ok = officer.post("/portal/queue/assign", data={"csrf_token": token, "case_id": [case_id], "officer_id": colleague})
    assert ok.status_code == 303
    assert "共 1 件" in officer.get(f"/portal/queue?assignee={colleague}").get_data(as_text=True)
    refused = officer.post(
        "/portal/queue/assign",
        data={"csrf_token": token, "case_id": [case_id], "officer_id": outsider},
        follow_redirects=True,
    )
    assert "只能分配给本辖区的经办人员" in refused.get_data(as_text=True)
    export = officer.get("/portal/queue?format=xlsx&bucket=investigating")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(export.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("民和镇 待办队列（调查核实中）")  # the title row
    assert rows[1][0] == "编号" and len(rows) == 3 and ZHANG[1] not in str(rows)
