"""In a real browser (Debian's chromium through Playwright): an officer logs in with password and
TOTP and works the queue."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pyotp
import pytest
from werkzeug.serving import make_server

from core import clock
from tests.conftest import unavailable
from tests.helpers import PASSWORD, citizen_headers, make_officer

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    yield pg
    pg.screenshot(path=str(tmp_path / "last.png"))
    context.close()


def test_officer_logs_in_with_totp_and_sees_own_queue(page, live_server, client, app):
    headers = citizen_headers(client, "13900006000")
    for township, title in (("360124100", "民和镇：独居老人"), ("360124101", "李渡镇：因病致贫")):
        assert (
            client.post(
                "/api/v1/demo/cases", headers=headers, json={"township_code": township, "title": title}
            ).status_code
            == 201
        )
    secret = make_officer(app, "browser_officer", "township_officer", "360124100")

    page.goto(f"{live_server}/portal/")
    assert page.url.startswith(f"{live_server}/portal/login")
    page.fill("#username", "browser_officer")
    page.fill("#password", "wrong password here")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "用户名或密码错误"

    page.fill("#username", "browser_officer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/login/totp")
    page.fill("#code", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/")

    assert "browser_officer" in page.get_by_test_id("officer-name").inner_text()
    table = page.get_by_test_id("queue-table")
    assert "民和镇：独居老人" in table.inner_text()
    assert "李渡镇：因病致贫" not in page.content()
    assert page.get_by_test_id("queue-total").inner_text() == "共 1 件"

    page.get_by_role("link", name="JZ", exact=False).first.click()
    assert page.locator("h1").inner_text() == "民和镇：独居老人"

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/portal/login")
    page.goto(f"{live_server}/portal/queue")
    assert "/portal/login" in page.url


def test_county_officer_filters_townships(page, live_server, client, app):
    headers = citizen_headers(client, "13900006001")
    for township, title in (("360124100", "甲事项"), ("360124101", "乙事项")):
        client.post("/api/v1/demo/cases", headers=headers, json={"township_code": township, "title": title})
    secret = make_officer(app, "browser_county", "county_officer", "360124")
    page.goto(f"{live_server}/portal/login")
    page.fill("#username", "browser_county")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#code", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/queue")
    assert page.get_by_test_id("queue-total").inner_text() == "共 2 件"
    page.select_option("#township", "360124101")
    page.wait_for_url("**township=360124101*")
    assert page.get_by_test_id("queue-total").inner_text() == "共 1 件"
    assert "乙事项" in page.get_by_test_id("queue-table").inner_text()


def _login(page, live_server, username, secret):
    page.goto(f"{live_server}/portal/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#code", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/queue")


def test_officer_takes_an_application_through_acceptance(page, live_server, client, app):
    from datetime import date

    from tests.helpers import bound_citizen, draft_body, id_number, png_bytes, submitted_application, upload

    person = ("赵桂兰", id_number(date(1950, 2, 3), 44))
    citizen = bound_citizen(client, "13900006002", *person)
    submitted = submitted_application(client, citizen, draft_body(*person))
    secret = make_officer(app, "browser_accept", "township_officer", "360124100")
    _login(page, live_server, "browser_accept", secret)

    page.get_by_role("link", name="JZ", exact=False).first.click()  # the case reference
    assert page.get_by_test_id("application-status").inner_text() == "已提交，待受理"
    assert person[1] not in page.content()
    page.fill("#correction-reason", "请上传户口簿户主页")
    page.get_by_test_id("request-correction").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "待补正材料"
    assert "补正中（暂停计时）" in page.content()

    new = upload(client, citizen, submitted["id"], "hukou", png_bytes(), "户主页.png").get_json()
    reply = client.post(
        f"/api/v1/applications/{submitted['id']}/corrections",
        headers=citizen,
        json={"text": "已上传", "attachment_ids": [new["id"]]},
    )
    assert reply.status_code == 200

    page.reload()
    assert page.get_by_test_id("application-status").inner_text() == "已提交，待受理"
    assert "户主页.png" in page.get_by_test_id("attachments").inner_text()
    page.get_by_test_id("accept").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "调查核实中"
    assert "民和镇已受理您的申请" in page.get_by_test_id("timeline").inner_text()

    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=citizen).get_json()
    assert [e["status_label"] for e in timeline] == [
        "已提交，待受理",
        "待补正材料",
        "已提交，待受理",
        "已受理",
        "调查核实中",
    ]


def test_officer_takes_a_report_to_an_application(page, live_server, client, app):
    from datetime import date

    from tests.helpers import citizen_headers, id_number

    person = ("孙爷爷", id_number(date(1940, 8, 8), 66))
    reporter = citizen_headers(client, "13900006003")
    report = client.post(
        "/api/v1/reports",
        headers=reporter,
        json={
            "category": "elderly_alone",
            "township_code": "360124100",
            "village_code": "360124100003",
            "person_name": person[0],
            "latitude": 28.377,
            "longitude": 116.267,
            "coordinate_system": "gcj02",
            "description": "独居老人，冬天无取暖",
        },
    ).get_json()
    secret = make_officer(app, "browser_reports", "township_officer", "360124100")
    _login(page, live_server, "browser_reports", secret)
    page.get_by_role("link", name="主动发现报告", exact=True).click()
    page.select_option("#filter-category", "elderly_alone")
    page.get_by_role("button", name="筛选").click()
    assert "独居老人无人照料" in page.get_by_test_id("reports-table").inner_text()
    page.get_by_role("link", name=report["reference"]).click()
    assert page.get_by_test_id("report-status").inner_text() == "待联系"
    assert "116.267,28.377" in page.get_by_test_id("map-link").get_attribute("href")
    page.get_by_test_id("mark-contacted").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("report-status").inner_text() == "已联系"
    page.get_by_test_id("mark-visited").click()
    page.wait_for_load_state()
    page.fill("#person-id", person[1])
    page.get_by_role("button", name="更新当事人信息").click()
    page.wait_for_load_state()
    page.select_option("#refer-program", "dibao")
    page.get_by_test_id("refer").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("report-status").inner_text() == "已办结：已转入救助申请"
    page.get_by_role("link", name="查看申请").click()
    assert page.get_by_test_id("proxy-badge").is_visible()
    assert page.get_by_test_id("application-status").inner_text() == "已提交，待受理"
    progress = client.get(f"/api/v1/reports/{report['id']}", headers=reporter).get_json()["progress"]
    assert [p["text"] for p in progress][-1] == "已办结：已转入救助申请"


def test_application_from_acceptance_to_county_confirmation(page, live_server, client, app, monkeypatch, tmp_path):
    from datetime import date, timedelta

    from core import clock
    from tests.helpers import (
        bound_citizen,
        citizen_headers,
        draft_body,
        id_number,
        jpeg_bytes,
        png_bytes,
        record_home_visit_in_browser,
        submitted_application,
    )

    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24 * 30)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24 * 30)
    person = ("钱阿姨", id_number(date(1958, 5, 6), 77))
    citizen = bound_citizen(client, "13900006004", *person)
    submitted = submitted_application(client, citizen, draft_body(*person))
    secret = make_officer(app, "browser_flow", "township_officer", "360124100")
    _login(page, live_server, "browser_flow", secret)
    page.goto(f"{live_server}/portal/applications/{submitted['id']}")
    page.get_by_test_id("accept").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "调查核实中"
    # the two investigation steps are open at once
    assert page.get_by_test_id("step-status-home_visit").inner_text() == "待办理"
    assert page.get_by_test_id("step-status-data_check").inner_text() == "待办理"
    form = page.get_by_test_id("step-form-home_visit")
    photo = tmp_path / "visit.jpg"
    photo.write_bytes(jpeg_bytes(with_gps=True))
    record_home_visit_in_browser(page, form, photo)
    with page.expect_navigation():  # the form's script adds the drawn signatures, then submits
        page.get_by_test_id("complete-home_visit").click()
    assert page.get_by_test_id("step-status-home_visit").inner_text() == "已完成"
    assert page.get_by_test_id("step-status-review").inner_text() == "等待前序环节"
    # data verification waits for every adult's authorization: she signed the paper letter at the window
    scan = tmp_path / "letter.png"
    scan.write_bytes(png_bytes())
    page.locator("[data-testid^=window-scan-]").first.set_input_files(str(scan))
    page.locator("[data-testid^=window-auth-]").first.click()
    page.wait_for_load_state()
    assert "窗口授权" in page.get_by_test_id("authorizations").inner_text()
    page.get_by_test_id("step-form-data_check").locator("textarea[name=findings]").fill("无房产车辆存款")
    page.get_by_test_id("complete-data_check").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "乡镇（街道）审核中"
    page.fill("#opinion", "经调查核实符合低保条件")
    page.fill("#review-amount", "650")
    page.get_by_test_id("complete-review").click()
    page.wait_for_load_state()
    page.get_by_test_id("start-notice").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "公示中"
    clock.set_offset(timedelta(days=8))  # the seven days of public notice pass
    page.reload()
    page.get_by_test_id("finish-notice").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "待县级民政部门确认"

    county_secret = make_officer(app, "browser_county_flow", "county_officer", "360124")
    page.get_by_role("button", name="退出").click()
    _login(page, live_server, "browser_county_flow", county_secret)
    page.get_by_test_id("bucket-confirmation").click()
    assert page.get_by_test_id("queue-total").inner_text() == "共 1 件"
    page.goto(f"{live_server}/portal/applications/{submitted['id']}")
    page.select_option("#result", "approve")
    page.fill("#decide-amount", "650")
    page.fill("#start-month", "2026-12")
    page.get_by_test_id("decide").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("application-status").inner_text() == "已批准"

    citizen = citizen_headers(client, "13900006004")
    timeline = client.get(f"/api/v1/applications/{submitted['id']}/timeline", headers=citizen).get_json()
    labels = [e["status_label"] for e in timeline]
    for expected in ("已受理", "调查核实中", "乡镇（街道）审核中", "公示中", "待县级民政部门确认", "已批准"):
        assert expected in labels
    page.get_by_role("link", name="数据看板").click()
    page.wait_for_selector("#chart-stage[data-rendered='1']", state="attached")  # no open case: hidden, says why
    assert page.get_by_test_id("kpi-decided").inner_text() == "1"
    assert page.get_by_test_id("kpi-on-time").inner_text() == "100%"


def test_citizen_verifies_real_name_by_face_before_applying(page, live_server, app, tmp_path):
    """The H5 page: SMS log-in, name + ID number, frames of a real head turn against the portrait on file,
    then the first draft. Uses the real photos (../shared/data/faces)."""
    from datetime import date

    from sqlalchemy import select

    from core.accounts.models import User
    from core.database import db
    from core.identity.models import IdentityVerification
    from tests.conftest import SHARED
    from tests.helpers import id_number

    faces = SHARED / "data" / "faces"
    if not faces.exists():
        unavailable(f"{faces} is absent: no real photos")
    person = ("林曼", id_number(date(1980, 1, 16), 93))
    shutil.copy(faces / "lin-manuel-miranda.png", tmp_path / "p.png")
    (tmp_path / "m.csv").write_text(f"id_number,file\n{person[1]},p.png\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["identity", "import-portraits", str(tmp_path), "--manifest", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 0, result.output

    page.goto(f"{live_server}/h5/real-name")  # the H5 app (h5/); the camera path is in tests/browser/test_h5.py
    page.wait_for_selector("#phone")
    page.fill("#phone", "13900007001")
    page.click("#send-code")
    page.wait_for_selector("#dev-code")
    page.fill("#code", page.inner_text("#dev-code").split("：")[-1])
    page.click("#login")
    page.wait_for_selector("#step-claim")
    page.fill("#name", person[0])
    page.fill("#id-number", person[1][:-1] + ("0" if person[1][-1] != "0" else "1"))  # a typo first
    page.click("#claim")
    from playwright.sync_api import expect

    expect(page.locator(".van-field__error-message")).to_contain_text("校验位")  # next to the field
    page.fill("#id-number", person[1])
    page.click("#claim")
    page.wait_for_selector("#step-face")
    expect(page.locator("#instruction")).to_contain_text("转头，再")
    actions = tuple(page.get_attribute("#instruction", "data-actions").split(","))
    from tests.helpers import LIVE_LIN

    page.click("#start-camera")  # this browser has no camera: the page offers photos from the camera app
    page.wait_for_selector("#frames")
    page.set_input_files("#frames", [str(faces / name) for name in LIVE_LIN[actions]])
    page.click("#upload")
    page.wait_for_selector("#step-done", timeout=60_000)
    assert page.inner_text("#verified").startswith(f"已实名核验：{person[0]}")
    page.click("#apply")
    page.wait_for_selector("#draft:not([hidden])")
    assert "已创建低保申请草稿" in page.inner_text("#draft")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "13900007001"))
        assert user.id_number == person[1] and user.identity_id is not None
        method = db.session.scalar(
            select(IdentityVerification.method).where(
                IdentityVerification.user_id == user.id, IdentityVerification.status == "passed"
            )
        )
        assert method == "face"
        db.session.remove()


def test_no_csp_violation_and_ending_a_session_elsewhere(page, browser, live_server, app):
    """Every page runs under a CSP without 'unsafe-inline' scripts (the browser reports none
    refused), and an officer ends their session in another browser from the sessions page."""
    secret = make_officer(app, "browser_sessions", "county_officer", "360124")
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    _login(page, live_server, "browser_sessions", secret)

    clock.set_offset(__import__("datetime").timedelta(seconds=31))  # the other browser needs the next TOTP code
    elsewhere = browser.new_context(locale="zh-CN").new_page()
    _login(elsewhere, live_server, "browser_sessions", secret)

    for path in ("/portal/queue", "/portal/reports", "/portal/reports/reporters", "/portal/dashboard"):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("chart-stage").get_attribute("data-rendered") == "1"  # the dashboard's script ran
    page.get_by_test_id("officer-name").click()
    page.wait_for_url("**/portal/account/sessions")
    assert page.get_by_test_id("current-session").count() == 1
    page.locator("[data-testid^=end-session-]").first.click()
    page.wait_for_url("**/portal/account/sessions")
    assert page.locator("[role=alert]").inner_text() == "已结束该登录会话"
    assert page.locator("[data-testid^=session-]").count() == 1

    elsewhere.reload()
    assert "/portal/login" in elsewhere.url
    assert "登录已失效，请重新登录" in elsewhere.locator("[role=alert]").inner_text()
    elsewhere.context.close()
    assert violations == []
