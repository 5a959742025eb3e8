"""The demo's department key signs real calls, and its pushed cremation is a warning in 民和镇's queue."""

from __future__ import annotations

import re

from tests.exchange.exchange_helpers import get
from tests.helpers import portal_login


def test_demo_department_key_and_warning(app, client, tmp_path):
    runner = app.test_cli_runner()
    loaded = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert loaded.exit_code == 0, loaded.output
    assert "a red warning in the queue" in loaded.output
    info = runner.invoke(args=["demo", "info"]).output
    key_id, secret = re.search(r"keyid (\S+) secret (\S+) \(hmac-sha256", info).groups()
    response = get(client, "/api/v1/exchange/client", key_id=key_id, secret=secret)
    assert response.status_code == 200 and response.json["categories"] == ["deaths", "cremations"]
    totp = dict(re.findall(r"^\s+(\w+)\s+\w+\s+\d+\s+totp_secret: ([A-Z2-7]+)$", info, re.M))
    officer = app.test_client()
    assert portal_login(officer, "minhe", totp["minhe"], password="Demo-Password-2026").status_code == 302
    queue = officer.get("/portal/queue?bucket=warning").get_data(as_text=True)
    assert "在保对象死亡" in queue
    warnings_page = officer.get("/portal/warnings").get_data(as_text=True)
    assert "火化信息" in warnings_page
