"""Officer log-in: two factors, replay, idle time-out, CSRF, safe redirects, the CLI."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp

from core import clock
from tests.helpers import PASSWORD, csrf_token, make_officer, portal_login


def test_login_needs_both_factors(client, app):
    secret = make_officer(app, "two_factor", "township_officer", "360124100")
    page = client.get("/portal/login").get_data(as_text=True)
    client.post("/portal/login", data={"username": "two_factor", "password": PASSWORD, "csrf_token": csrf_token(page)})
    # password alone does not open the queue
    assert client.get("/portal/queue").status_code == 302
    page = client.get("/portal/login/totp").get_data(as_text=True)
    wrong = client.post("/portal/login/totp", data={"code": "000000", "csrf_token": csrf_token(page)})
    assert wrong.status_code == 401 and "动态验证码错误或已使用" in wrong.get_data(as_text=True)
    ok = client.post("/portal/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    assert ok.status_code == 302
    assert client.get("/portal/queue").status_code == 200


def test_totp_code_cannot_be_replayed(app):
    secret = make_officer(app, "replay", "township_officer", "360124100")
    first = app.test_client()
    assert portal_login(first, "replay", secret).status_code == 302
    second = app.test_client()
    resp = portal_login(second, "replay", secret)  # same 30-second window, same code
    assert resp.status_code == 401


def test_totp_step_without_password_redirects(client):
    resp = client.get("/portal/login/totp")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/login")


def test_idle_timeout(client, app):
    secret = make_officer(app, "idle", "township_officer", "360124100")
    portal_login(client, "idle", secret)
    assert client.get("/portal/queue").status_code == 200
    clock.set_offset(timedelta(minutes=app.config["PORTAL_IDLE_TIMEOUT_MINUTES"] - 1))
    assert client.get("/portal/queue").status_code == 200  # activity keeps it alive
    clock.set_offset(timedelta(minutes=2 * app.config["PORTAL_IDLE_TIMEOUT_MINUTES"]))
    resp = client.get("/portal/queue")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    assert "长时间未操作，请重新登录" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_login_form_requires_csrf(client, app):
    make_officer(app, "csrf", "township_officer", "360124100")
    resp = client.post("/portal/login", data={"username": "csrf", "password": PASSWORD})
    assert resp.status_code == 400


def test_next_parameter_cannot_leave_the_portal(client, app):
    secret = make_officer(app, "redirect", "township_officer", "360124100")
    page = client.get("/portal/login?next=//evil.example/x").get_data(as_text=True)
    client.post(
        "/portal/login?next=//evil.example/x",
        data={"username": "redirect", "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    page = client.get("/portal/login/totp").get_data(as_text=True)
    resp = client.post("/portal/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    assert resp.headers["Location"] == "/portal/queue"


def test_portal_security_headers(client):
    resp = client.get("/portal/login")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_create_officer_cli_prints_totp_secret(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create-officer",
            "--username",
            "cli_officer",
            "--password",
            "A-long-enough-password",
            "--role",
            "county_officer",
            "--region",
            "360124",
        ]
    )
    assert result.exit_code == 0, result.output
    secret = re.search(r"^totp_secret: ([A-Z2-7]+)$", result.output, re.M).group(1)
    client = app.test_client()
    assert portal_login(client, "cli_officer", secret, password="A-long-enough-password").status_code == 302
    bad = runner.invoke(
        args=[
            "users",
            "create-officer",
            "--username",
            "x",
            "--password",
            "short",
            "--role",
            "township_officer",
            "--region",
            "360124",
        ]
    )
    assert bad.exit_code != 0
    assert "密码至少12位" in bad.output
    assert "该角色须绑定一个乡级（乡镇/街道）行政区划" in bad.output


def test_grant_role_cli(client, app):
    from tests.helpers import citizen_headers

    headers = citizen_headers(client, "13900007000")
    result = app.test_cli_runner().invoke(
        args=["users", "grant-role", "--phone", "13900007000", "--role", "grid_worker", "--region", "360124100"]
    )
    assert result.exit_code == 0, result.output
    roles = client.get("/api/v1/me", headers=headers).get_json()["roles"]
    assert roles == [{"role": "grid_worker", "label": "网格员", "region_code": "360124100"}]
