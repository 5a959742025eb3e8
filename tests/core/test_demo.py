"""`make run`'s demo data loads once and its log-ins work."""

from __future__ import annotations

import re

from tests.helpers import portal_login


def test_demo_load_is_idempotent_and_logins_work(app, client, tmp_path):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert first.exit_code == 0, first.output
    assert "officer minhe created" in first.output and "demo application submitted" in first.output
    again = runner.invoke(args=["demo", "load", "--regions-dir", str(tmp_path / "absent")])
    assert again.exit_code == 0 and "demo data already present" in again.output
    info = runner.invoke(args=["demo", "info"])
    secrets = dict(re.findall(r"^\s+(\w+)\s+\w+\s+\d+\s+totp_secret: ([A-Z2-7]+)$", info.output, re.M))
    assert set(secrets) == {"minhe", "lidu", "jinxian"}
    officer = app.test_client()
    assert portal_login(officer, "minhe", secrets["minhe"], password="Demo-Password-2026").status_code == 302
    queue = officer.get("/portal/queue").get_data(as_text=True)
    assert "低保申请 · 张*" in queue and "独居老人无人照料" in queue  # the application and the report
    lidu = app.test_client()
    portal_login(lidu, "lidu", secrets["lidu"], password="Demo-Password-2026")
    lidu_queue = lidu.get("/portal/queue").get_data(as_text=True)
    assert "户籍地知情" in lidu_queue and "低保申请 · 张*" in lidu_queue  # the 户籍 township's information copy
    assert "共 0 件" in lidu.get("/portal/queue?bucket=accept").get_data(as_text=True)  # not for it to accept
