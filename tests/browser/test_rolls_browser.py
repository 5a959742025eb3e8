"""The monthly payment roll (发放名册) in a real browser: county officer A drafts and submits the roll, officer
B logs in, locks it (two-person rule) and downloads the Excel; its grand total equals the roll's total."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from openpyxl import load_workbook

from core import clock
from core.database import db
from core.registry.models import PaymentRoll
from tests.browser.test_browser import browser, live_server  # noqa: F401 - the shared fixtures
from tests.conftest import ROOT
from tests.helpers import PASSWORD, make_officer
from tests.registry.rolls_helpers import COUNTY, enrollments_in_county

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(os.environ.get("TEST_SCREENSHOT_DIR", ROOT / "test-results" / "screenshots"))


@pytest.fixture(autouse=True)
def _long_sessions(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 60 * 24)
    monkeypatch.setitem(app.config, "PORTAL_SESSION_ABSOLUTE_HOURS", 24)


def _login(page, base: str, username: str, secret: str) -> None:
    page.goto(f"{base}/portal/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.fill("#code", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/queue")


def _logout(page) -> None:
    page.click("form[action$='/logout'] button")
    page.wait_for_url("**/portal/login**")


def test_county_officers_draft_submit_lock_and_export(browser, live_server, app, tmp_path):  # noqa: F811
    enrollments_in_county(app)
    secret_a = make_officer(app, "browser_roll_a", "county_officer", COUNTY)
    secret_b = make_officer(app, "browser_roll_b", "county_officer", COUNTY)
    context = browser.new_context(locale="zh-CN", accept_downloads=True, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        _login(page, live_server, "browser_roll_a", secret_a)
        page.get_by_test_id("nav-rolls").click()
        page.wait_for_url("**/portal/rolls")
        page.get_by_test_id("roll-month").fill("2026-12")
        page.get_by_test_id("roll-draft").click()
        page.wait_for_url("**/portal/rolls/*")
        assert "已生成2026-12发放名册草稿：3条，合计2035.75元" in page.inner_text("main")
        assert page.get_by_test_id("roll-status").inner_text() == "草稿"
        assert page.get_by_test_id("roll-line").count() == 3
        page.get_by_test_id("roll-submit").click()
        page.wait_for_load_state()
        assert "已提交审核" in page.inner_text("main")
        assert page.get_by_test_id("roll-status").inner_text() == "待审核"
        roll_url = page.url
        page.get_by_test_id("roll-lock").click()  # A may not lock what A submitted
        page.wait_for_load_state()
        assert "双人复核" in page.inner_text("main")
        _logout(page)

        _login(page, live_server, "browser_roll_b", secret_b)
        page.goto(roll_url)
        page.get_by_test_id("roll-lock").click()
        page.wait_for_load_state()
        assert "已审核锁定" in page.inner_text("main")
        assert page.get_by_test_id("roll-status").inner_text() == "已锁定"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "roll-locked-1366x900.png"), full_page=True)
        with page.expect_download() as info:
            page.get_by_test_id("roll-export-excel").click()
        download = info.value
        assert download.suggested_filename.endswith(".xlsx") and "发放名册" in download.suggested_filename
        target = tmp_path / "roll.xlsx"
        download.save_as(target)
        sheet = load_workbook(target).active
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
        amount_col = rows[1].index("本月发放金额（元）")
        grand = next(r for r in rows if r[1] == "合计")
        with app.app_context():
            roll = db.session.get(PaymentRoll, int(roll_url.rstrip("/").rsplit("/", 1)[1]))
            total = roll.total_amount
            db.session.remove()
        assert Decimal(str(grand[amount_col])).quantize(Decimal("0.01")) == total == Decimal("2035.75")
        with page.expect_download() as info:
            page.get_by_test_id("roll-export-bank").click()
        assert info.value.suggested_filename.endswith(".csv")
    finally:
        context.close()
