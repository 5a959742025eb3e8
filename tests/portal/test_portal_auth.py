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
    # a loaded machine may cross a 30-second step between the two log-ins: start at the beginning of one
    now = clock.utcnow()
    clock.set_offset(timedelta(seconds=30 - now.timestamp() % 30 + 1))
    code = pyotp.TOTP(secret).at(clock.utcnow())
    first = app.test_client()
    assert portal_login(first, "replay", secret, code=code).status_code == 302
    second = app.test_client()
    resp = portal_login(second, "replay", secret, code=code)  # same window, same code
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


# --- server-side sessions, attacked -----------------------------------------------------------

COOKIE = "relieflink_portal"


def _cookie(client) -> str | None:
    cookie = client.get_cookie(COOKIE, path="/portal")
    return cookie.value if cookie else None


def _with_cookie(app, value: str):
    """A fresh browser that presents a copied cookie value."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, value, path="/portal")
    return thief


def _logged_in(client) -> bool:
    resp = client.get("/portal/queue")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def _second_login(app, username: str, secret: str, step: int = 1):
    """Another browser for the same officer (the next TOTP step: a code is accepted only once)."""
    clock.set_offset(timedelta(seconds=31 * step))
    other = app.test_client()
    assert portal_login(other, username, secret).status_code == 302
    return other


def _audit_actions(app, action: str) -> list:
    from sqlalchemy import select

    from core.audit.models import AuditEntry
    from core.database import db

    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        db.session.remove()
        return rows


def _session_rows(app) -> list:
    from sqlalchemy import select

    from core.accounts.models import PortalSession
    from core.database import db

    with app.app_context():
        rows = db.session.scalars(select(PortalSession).order_by(PortalSession.id)).all()
        db.session.remove()
        return rows


def test_cookie_carries_only_an_opaque_id(client, app):
    from core.accounts.models import Officer

    secret = make_officer(app, "opaque", "township_officer", "360124100")
    portal_login(client, "opaque", secret)
    token = _cookie(client)
    assert token and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, nothing else
    rows = _session_rows(app)
    live = [r for r in rows if r.revoked_at is None and r.officer_id is not None]
    assert len(live) == 1
    assert live[0].token_hash != token and token not in live[0].token_hash  # only a keyed hash is stored
    assert "officer_id" not in (live[0].data or {})
    with app.app_context():
        from core.database import db

        assert db.session.get(Officer, live[0].officer_id).username == "opaque"
        db.session.remove()


def test_cookie_flags_and_lifetime(app):
    secret = make_officer(app, "flags", "township_officer", "360124100")
    client = app.test_client()
    page = client.get("/portal/login")
    resp = client.post(
        "/portal/login",
        data={"username": "flags", "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    page = client.get("/portal/login/totp")
    resp = client.post(
        "/portal/login/totp",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    set_cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/portal" in set_cookie
    cookie = client.get_cookie(COOKIE, path="/portal")
    lifetime = cookie.expires - clock.utcnow()
    assert timedelta(hours=11) < lifetime <= timedelta(hours=app.config["PORTAL_SESSION_ABSOLUTE_HOURS"])
    # the API never sees the portal cookie
    assert client.get_cookie(COOKIE) is None


def test_cookie_replayed_after_logout_is_not_logged_in(client, app):
    secret = make_officer(app, "replay_out", "township_officer", "360124100")
    portal_login(client, "replay_out", secret)
    stolen = _cookie(client)
    assert _logged_in(_with_cookie(app, stolen))  # a copied cookie works while the session lives
    page = client.get("/portal/queue").get_data(as_text=True)
    resp = client.post("/portal/logout", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/login")
    assert _cookie(client) != stolen
    assert not _logged_in(client)
    thief = _with_cookie(app, stolen)
    resp = thief.get("/portal/queue")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    assert "登录已失效，请重新登录" in thief.get(resp.headers["Location"]).get_data(as_text=True)
    logouts = _audit_actions(app, "officer.logout")
    assert len(logouts) == 1 and logouts[0].actor_kind == "officer"
    ended = [r for r in _session_rows(app) if r.officer_id is not None]
    assert ended and all(r.revoked_at is not None for r in ended)
    assert {r.revoked_reason for r in ended} == {"logout"}


def test_password_reset_ends_every_session(client, app):
    secret = make_officer(app, "pw_reset", "township_officer", "360124100")
    portal_login(client, "pw_reset", secret)
    other = _second_login(app, "pw_reset", secret)
    stolen = _cookie(other)
    assert _logged_in(client) and _logged_in(other)

    result = app.test_cli_runner().invoke(args=["users", "reset-password", "--username", "pw_reset"])
    assert result.exit_code == 0, result.output
    assert "portal sessions ended: 2" in result.output
    one_time = re.search(r"^one_time_password: (\S+)$", result.output, re.M).group(1)
    assert len(one_time) >= 12

    assert not _logged_in(client) and not _logged_in(other) and not _logged_in(_with_cookie(app, stolen))
    entry = _audit_actions(app, "officer.password_reset")
    assert len(entry) == 1 and entry[0].actor_kind == "system"
    assert entry[0].detail["generated"] is True and entry[0].detail["sessions_ended"] == 2
    assert one_time not in str(entry[0].changes) + str(entry[0].detail)

    # the old password is dead; the one-time password leads straight to choosing a new one
    clock.set_offset(timedelta(seconds=95))
    fresh = app.test_client()
    page = fresh.get("/portal/login").get_data(as_text=True)
    old = fresh.post(
        "/portal/login", data={"username": "pw_reset", "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert old.status_code == 401
    assert portal_login(fresh, "pw_reset", secret, password=one_time).status_code == 302
    resp = fresh.get("/portal/queue")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/account/password")
    page = fresh.get("/portal/account/password").get_data(as_text=True)
    assert "请先设置新密码" in page
    weak = fresh.post(
        "/portal/account/password",
        data={
            "current_password": one_time,
            "new_password": "short",
            "confirm": "short",
            "csrf_token": csrf_token(page),
        },
    )
    assert weak.status_code == 400 and "密码至少12位" in weak.get_data(as_text=True)
    ok = fresh.post(
        "/portal/account/password",
        data={
            "current_password": one_time,
            "new_password": "A-brand-new-password-1",
            "confirm": "A-brand-new-password-1",
            "csrf_token": csrf_token(page),
        },
    )
    assert ok.status_code == 302
    assert _logged_in(fresh)
    assert len(_audit_actions(app, "officer.password_change")) == 1


def test_password_reset_cli_with_given_password_and_unknown_user(client, app):
    secret = make_officer(app, "pw_given", "township_officer", "360124100")
    portal_login(client, "pw_given", secret)
    runner = app.test_cli_runner()
    short = runner.invoke(args=["users", "reset-password", "--username", "pw_given", "--password", "short"])
    assert short.exit_code != 0 and "密码至少12位" in short.output
    assert _logged_in(client)  # a refused reset changes nothing
    ok = runner.invoke(
        args=["users", "reset-password", "--username", "pw_given", "--password", "Another-long-password"]
    )
    assert ok.exit_code == 0 and "one_time_password" not in ok.output
    assert not _logged_in(client)
    clock.set_offset(timedelta(seconds=40))
    fresh = app.test_client()
    assert portal_login(fresh, "pw_given", secret, password="Another-long-password").status_code == 302
    assert _logged_in(fresh)  # a password chosen by the administrator need not be changed
    missing = runner.invoke(args=["users", "reset-password", "--username", "nobody"])
    assert missing.exit_code != 0 and "未找到该用户名的经办人员" in missing.output


def test_totp_reset_ends_every_session_and_the_old_secret(client, app):
    secret = make_officer(app, "totp_reset", "township_officer", "360124100")
    portal_login(client, "totp_reset", secret)
    other = _second_login(app, "totp_reset", secret)
    result = app.test_cli_runner().invoke(args=["users", "reset-totp", "--username", "totp_reset"])
    assert result.exit_code == 0, result.output
    new_secret = re.search(r"^totp_secret: ([A-Z2-7]+)$", result.output, re.M).group(1)
    assert new_secret != secret
    assert not _logged_in(client) and not _logged_in(other)
    entry = _audit_actions(app, "officer.totp_reset")
    assert len(entry) == 1 and entry[0].detail["sessions_ended"] == 2
    assert new_secret not in str(entry[0].changes) + str(entry[0].detail)
    clock.set_offset(timedelta(seconds=100))
    assert portal_login(app.test_client(), "totp_reset", secret).status_code == 401  # the old authenticator
    clock.set_offset(timedelta(seconds=130))
    fresh = app.test_client()
    assert portal_login(fresh, "totp_reset", new_secret).status_code == 302
    assert _logged_in(fresh)


def test_absolute_lifetime_ends_an_active_session(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_IDLE_TIMEOUT_MINUTES", 24 * 60)  # only the absolute limit counts here
    secret = make_officer(app, "absolute", "township_officer", "360124100")
    portal_login(client, "absolute", secret)
    hours = app.config["PORTAL_SESSION_ABSOLUTE_HOURS"]
    assert hours == 12
    for minutes in (60, 6 * 60, (hours * 60) - 1):  # activity all along
        clock.set_offset(timedelta(minutes=minutes))
        assert _logged_in(client)
    clock.set_offset(timedelta(minutes=hours * 60 + 1))
    resp = client.get("/portal/queue")
    assert resp.status_code == 302 and "/portal/login" in resp.headers["Location"]
    assert "登录已超过最长有效时间，请重新登录" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert not _logged_in(client)
    expired = [r for r in _session_rows(app) if r.officer_id is not None]
    assert [r.revoked_reason for r in expired] == ["expired"]


def test_session_fixation_a_planted_id_is_not_kept(app):
    secret = make_officer(app, "fixation", "township_officer", "360124100")
    attacker = app.test_client()
    attacker.get("/portal/login")  # the attacker gets an anonymous session id ...
    planted = _cookie(attacker)
    assert planted
    victim = _with_cookie(app, planted)  # ... and plants it in the victim's browser
    page = victim.get("/portal/login").get_data(as_text=True)
    assert _cookie(victim) == planted  # the server accepted it as an anonymous session
    victim.post("/portal/login", data={"username": "fixation", "password": PASSWORD, "csrf_token": csrf_token(page)})
    pending = _cookie(victim)
    assert pending != planted  # new id after the password
    page = victim.get("/portal/login/totp").get_data(as_text=True)
    resp = victim.post("/portal/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert _cookie(victim) not in (planted, pending)  # and again after the second factor
    assert _logged_in(victim)
    assert not _logged_in(attacker)
    assert not _logged_in(_with_cookie(app, pending))
    # the half-logged-in id cannot be completed by someone else either
    assert _with_cookie(app, pending).get("/portal/login/totp").status_code == 302


def test_forged_or_garbage_cookie_is_a_fresh_anonymous_session(app):
    for value in ("x", "a" * 43, "a" * 3000, "eyJvZmZpY2VyX2lkIjoxfQ.Zz.sig"):  # the old signed-cookie shape too
        browser = _with_cookie(app, value)
        assert not _logged_in(browser)


def test_officer_lists_and_ends_own_other_sessions(client, app):
    secret = make_officer(app, "owner", "township_officer", "360124100")
    portal_login(client, "owner", secret)
    clock.set_offset(timedelta(seconds=31))
    other = app.test_client()
    other_page = other.get("/portal/login", headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0"})
    other.post(
        "/portal/login",
        data={"username": "owner", "password": PASSWORD, "csrf_token": csrf_token(other_page.get_data(as_text=True))},
        headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0"},
    )
    page = other.get("/portal/login/totp").get_data(as_text=True)
    other.post(
        "/portal/login/totp",
        data={"code": pyotp.TOTP(secret).at(clock.utcnow()), "csrf_token": csrf_token(page)},
        headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/128.0"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert _logged_in(other)

    page = client.get("/portal/account/sessions").get_data(as_text=True)
    assert page.count('data-testid="session-') == 2
    assert page.count("当前会话") == 1
    assert "10.1.2.3" in page and "Firefox 128 · Windows" in page
    rows = [r for r in _session_rows(app) if r.officer_id is not None and r.revoked_at is None]
    elsewhere = next(r for r in rows if r.ip == "10.1.2.3")
    current = next(r for r in rows if r.id != elsewhere.id)

    # the current session is ended by logging out, not from this list
    refused = client.post(f"/portal/account/sessions/{current.id}/end", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 303
    assert "未找到该登录会话" in client.get("/portal/account/sessions").get_data(as_text=True)
    assert _logged_in(client)
    # without the CSRF token nothing happens
    assert client.post(f"/portal/account/sessions/{elsewhere.id}/end").status_code == 400
    assert _logged_in(other)
    ok = client.post(f"/portal/account/sessions/{elsewhere.id}/end", data={"csrf_token": csrf_token(page)})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/portal/account/sessions")
    assert "已结束该登录会话" in client.get("/portal/account/sessions").get_data(as_text=True)
    assert not _logged_in(other) and _logged_in(client)
    ended = _audit_actions(app, "officer.session_end")
    assert len(ended) == 1 and ended[0].target_id == str(elsewhere.id) and ended[0].detail["session_ip"] == "10.1.2.3"
    # ending it again: not found
    again = client.post(f"/portal/account/sessions/{elsewhere.id}/end", data={"csrf_token": csrf_token(page)})
    assert again.status_code == 303
    assert "未找到该登录会话" in client.get("/portal/account/sessions").get_data(as_text=True)


def test_another_officer_cannot_see_or_end_my_sessions(client, app):
    mine = make_officer(app, "victim_officer", "township_officer", "360124100")
    theirs = make_officer(app, "other_officer", "system_admin", None)
    portal_login(client, "victim_officer", mine)
    victim_row = next(r for r in _session_rows(app) if r.revoked_at is None and r.officer_id is not None)
    attacker = app.test_client()
    portal_login(attacker, "other_officer", theirs)
    page = attacker.get("/portal/account/sessions").get_data(as_text=True)
    assert page.count('data-testid="session-') == 1 and f'data-testid="session-{victim_row.id}"' not in page
    resp = attacker.post(f"/portal/account/sessions/{victim_row.id}/end", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 303
    assert "未找到该登录会话" in attacker.get("/portal/account/sessions").get_data(as_text=True)
    attacker.post("/portal/account/sessions/end-others", data={"csrf_token": csrf_token(page)})
    assert _logged_in(client)  # still logged in
    assert _audit_actions(app, "officer.session_end") == []


def test_end_all_other_sessions(client, app):
    secret = make_officer(app, "end_all", "township_officer", "360124100")
    portal_login(client, "end_all", secret)
    others = [_second_login(app, "end_all", secret, step) for step in (1, 2)]
    page = client.get("/portal/account/sessions").get_data(as_text=True)
    resp = client.post("/portal/account/sessions/end-others", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert "已结束其他2个登录会话" in client.get("/portal/account/sessions").get_data(as_text=True)
    assert _logged_in(client) and not any(_logged_in(o) for o in others)
    assert _audit_actions(app, "officer.sessions_end_others")[0].detail["count"] == 2


def test_change_password_needs_the_current_one_and_ends_other_sessions(client, app):
    secret = make_officer(app, "changer", "township_officer", "360124100")
    portal_login(client, "changer", secret)
    other = _second_login(app, "changer", secret)
    before = _cookie(client)
    page = client.get("/portal/account/password").get_data(as_text=True)
    wrong = client.post(
        "/portal/account/password",
        data={
            "current_password": "not-my-password",
            "new_password": "A-brand-new-password-2",
            "confirm": "A-brand-new-password-2",
            "csrf_token": csrf_token(page),
        },
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    assert _logged_in(other)
    ok = client.post(
        "/portal/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "A-brand-new-password-2",
            "confirm": "A-brand-new-password-2",
            "csrf_token": csrf_token(page),
        },
    )
    assert ok.status_code == 302
    assert _logged_in(client) and not _logged_in(other)
    assert _cookie(client) != before and not _logged_in(_with_cookie(app, before))


def test_purge_removes_ended_sessions(client, app):
    from workers.tasks.maintenance import purge_portal_sessions

    secret = make_officer(app, "purge", "township_officer", "360124100")
    portal_login(client, "purge", secret)
    stale = app.test_client()
    stale.get("/portal/login")  # an anonymous session, left alone
    before = _session_rows(app)
    assert any(r.revoked_at is not None for r in before)  # the ids replaced at log-in
    clock.set_offset(timedelta(minutes=app.config["PORTAL_IDLE_TIMEOUT_MINUTES"] - 5))
    assert _logged_in(client)
    clock.set_offset(timedelta(minutes=app.config["PORTAL_IDLE_TIMEOUT_MINUTES"] + 10))
    with app.app_context():
        removed = purge_portal_sessions.apply().get()
    after = _session_rows(app)
    assert removed == len(before) - 1
    assert len(after) == 1 and after[0].officer_id is not None  # the live one stays
    assert _logged_in(client)


def test_purge_job_is_scheduled(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert any(entry["task"] == "maintenance.purge_portal_sessions" for entry in schedule.values())


def test_api_requests_open_no_portal_session(client, app):
    from tests.helpers import citizen_headers

    headers = citizen_headers(client, "13900007001")
    client.get("/api/v1/me", headers=headers)
    client.get("/healthz")
    assert _session_rows(app) == []
