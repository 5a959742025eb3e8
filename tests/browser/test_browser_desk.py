"""The officer's desk in a real browser (Debian's chromium through Playwright) at a phone size (390×844)
and a laptop size (1366×768): the queue as cards or as a table, no horizontal overflow, the county
officer's drill-down from the dashboard's overdue cell, and the home visit recorded on a phone with a
camera photo and signatures drawn on screen. Screenshots are saved under test-results/screenshots/."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from PIL import Image
from sqlalchemy import select

from core import clock
from core.actor import SYSTEM
from core.casework import services as casework
from core.casework.models import Case, CaseStep, StepFile
from core.database import commit, db
from tests.browser.test_browser import browser, live_server  # noqa: F401 - the shared fixtures
from tests.conftest import ROOT
from tests.helpers import (
    PASSWORD,
    bound_citizen,
    draft_body,
    id_number,
    jpeg_bytes,
    make_officer,
    record_home_visit_in_browser,
    submitted_application,
)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("TEST_SCREENSHOT_DIR", ROOT / "test-results" / "screenshots"))
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
MINHE, LIDU = "360124100", "360124101"


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24 * 30)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24 * 30)


def _context(browser, viewport: dict, *, phone: bool = False):  # noqa: F811
    options = {"locale": "zh-CN", "viewport": viewport}
    if phone:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    return browser.new_context(**options)


def _login(page, base: str, username: str, secret: str) -> None:
    page.goto(f"{base}/portal/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#code", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/queue")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"), full_page=True)


def _no_horizontal_overflow(page) -> None:
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth})"
    )
    assert widths["doc"] <= widths["view"] and widths["body"] <= widths["view"], (page.url, widths)


def _cases(app, township: str, *, overdue: int, later: int) -> None:
    with app.app_context():
        today = clock.local_today()
        for n in range(overdue + later):
            case = casework.open_case(
                SYSTEM,
                kind="demo",
                township_code=township,
                title=f"演示：独居老人生活困难，需要上门核实家庭收入与住房情况 {n}",
                due_in_working_days=3,
            )
            case.stage = "investigating"
            if n < overdue:
                case.next_due = today - timedelta(days=4)
        commit()
        db.session.remove()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390x844", "1366x768"])
def test_portal_layout_at_phone_and_laptop_sizes(browser, live_server, app, client, viewport):  # noqa: F811
    _cases(app, MINHE, overdue=2, later=3)
    person = ("赵桂兰", id_number(date(1950, 2, 3), 44))
    submitted = submitted_application(client, bound_citizen(client, "13900097000", *person), draft_body(*person))
    report = client.post(
        "/api/v1/reports",
        headers=bound_citizen(client, "13900097001", "李网格", id_number(date(1985, 9, 3), 52)),
        json={"category": "elderly_alone", "township_code": MINHE, "description": "独居老人，冬天无取暖" * 5},
    ).get_json()
    secret = make_officer(app, f"layout_{viewport['width']}", "township_officer", MINHE)
    context = _context(browser, viewport, phone=viewport is PHONE)
    page = context.new_page()
    try:
        _login(page, live_server, f"layout_{viewport['width']}", secret)
        table = page.get_by_test_id("queue-table")
        rows = page.get_by_test_id("queue-row")
        assert rows.count() == 7  # five cases, the application and the report
        header_visible = table.locator("thead").is_visible()
        row_display = rows.first.evaluate("el => getComputedStyle(el).display")
        if viewport is PHONE:  # cards: no header row, one block per case, labels beside the values
            assert not header_visible and row_display == "block"
            label = rows.first.locator("td[data-label='最近期限']").evaluate(
                "el => getComputedStyle(el, '::before').content"
            )
            assert "最近期限" in label
            card = rows.first.bounding_box()
            assert card["width"] <= viewport["width"]
        else:  # a table with its header
            assert header_visible and row_display == "table-row"
        assert page.get_by_test_id("desk-overdue-count").inner_text() == "2"
        assert page.locator("[data-state=overdue]").count() == 2
        _no_horizontal_overflow(page)
        _shot(page, "queue")
        for name, path in (
            ("dashboard", "/portal/dashboard"),
            ("application", f"/portal/applications/{submitted['id']}"),
            ("report", f"/portal/reports/{report['id']}"),
            ("notifications", "/portal/notifications"),
            ("digest-preference", "/portal/account/notifications"),
            ("sessions", "/portal/account/sessions"),
        ):
            page.goto(f"{live_server}{path}")
            page.wait_for_load_state("networkidle")
            _no_horizontal_overflow(page)
            _shot(page, name)
        page.goto(f"{live_server}/portal/applications/{submitted['id']}")
        with page.expect_navigation():
            page.get_by_test_id("accept").click()
        assert page.get_by_test_id("next-deadline").is_visible()
        _no_horizontal_overflow(page)
        _shot(page, "application-accepted")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390x844", "1366x768"])
def test_county_officer_drills_from_the_overdue_cell_to_the_queue(browser, live_server, app, viewport):  # noqa: F811
    _cases(app, MINHE, overdue=3, later=1)
    _cases(app, LIDU, overdue=1, later=2)
    secret = make_officer(app, f"drill_{viewport['width']}", "county_officer", "360124")
    context = _context(browser, viewport, phone=viewport is PHONE)
    page = context.new_page()
    try:
        _login(page, live_server, f"drill_{viewport['width']}", secret)
        page.goto(f"{live_server}/portal/dashboard")
        page.wait_for_selector("#chart-stage[data-rendered='1']")
        cell = page.get_by_test_id(f"overdue-{MINHE}")
        assert cell.inner_text() == "3"
        assert page.get_by_test_id(f"open-{MINHE}").inner_text() == "4"
        _no_horizontal_overflow(page)
        _shot(page, "county-dashboard")
        cell.click()
        page.wait_for_url(f"**/portal/queue?bucket=overdue&township={MINHE}")
        assert page.get_by_test_id("queue-total").inner_text() == "共 3 件"
        assert page.get_by_test_id("queue-row").count() == 3
        assert page.locator("[data-testid=queue-row] [data-state=overdue]").count() == 3
        assert page.locator("#township").input_value() == MINHE
        assert "overdue" in (page.get_by_test_id("bucket-overdue").get_attribute("class") or "")
        _no_horizontal_overflow(page)
        _shot(page, "county-drilldown")
    finally:
        context.close()


def test_home_visit_recorded_on_a_phone_with_photo_and_signatures(browser, live_server, app, client, tmp_path):  # noqa: F811
    person = ("钱阿姨", id_number(date(1958, 5, 6), 77))
    submitted = submitted_application(client, bound_citizen(client, "13900097002", *person), draft_body(*person))
    secret = make_officer(app, "visit_phone", "township_officer", MINHE)
    context = _context(browser, PHONE, phone=True)
    page = context.new_page()
    try:
        _login(page, live_server, "visit_phone", secret)
        page.goto(f"{live_server}/portal/applications/{submitted['id']}")
        with page.expect_navigation():
            page.get_by_test_id("accept").click()
        form = page.get_by_test_id("step-form-home_visit")
        photos = form.get_by_test_id("home-visit-photos")
        assert photos.get_attribute("accept") == "image/*" and photos.get_attribute("capture") == "environment"
        photo = tmp_path / "IMG_0001.jpg"
        photo.write_bytes(jpeg_bytes(with_gps=True, size=(640, 480)))
        # submitting without signatures is refused, with the reason
        form.locator("input[name=investigator_1]").fill("王一")
        form.locator("input[name=investigator_2]").fill("李二")
        form.locator("textarea[name=findings]").fill("住房简陋")
        form.locator("input[name=photos]").set_input_files(str(photo))
        with page.expect_navigation():
            page.get_by_test_id("complete-home_visit").click()
        assert "请在签名框内签字" in page.locator("[role=alert]").inner_text()
        assert page.get_by_test_id("step-status-home_visit").inner_text() != "已完成"

        form = page.get_by_test_id("step-form-home_visit")
        record_home_visit_in_browser(page, form, photo)
        assert form.locator(".photo-previews img").count() == 1
        assert page.locator("[data-pad-state]").all_inner_texts() == ["已签字（3笔）"] * 3
        _no_horizontal_overflow(page)
        _shot(page, "home-visit-form")
        with page.expect_navigation():
            page.get_by_test_id("complete-home_visit").click()
        alerts = page.locator("[role=alert]").all_inner_texts()
        assert page.get_by_test_id("step-status-home_visit").inner_text() == "已完成", alerts
        images = page.get_by_test_id("step-files-home_visit").locator("img")
        assert sorted(images.evaluate_all("els => els.map(e => e.dataset.kind)")) == [
            "photo",
            "signature_applicant",
            "signature_investigator_1",
            "signature_investigator_2",
        ]
        assert all(images.evaluate_all("els => els.map(e => e.complete && e.naturalWidth > 0)"))
        _no_horizontal_overflow(page)
        _shot(page, "home-visit-done")
    finally:
        context.close()
    with app.app_context():
        from core.files import storage

        case = db.session.scalar(select(Case).where(Case.subject_id == submitted["id"], Case.kind == "application"))
        step = db.session.scalar(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.step == "home_visit"))
        files = db.session.scalars(select(StepFile).where(StepFile.step_id == step.id)).all()
        for f in files:
            image = Image.open(io.BytesIO(storage.open_path(f.storage_key).read_bytes()))
            assert not image.getexif()
            if f.kind != "photo":  # the drawn strokes arrived: dark pixels on the white pad
                assert image.convert("L").getextrema()[0] < 80
        db.session.remove()
