"""Officer log-in: password, then TOTP; server-side sessions with idle and absolute time-outs;
the officer's own sessions and password; deny by default."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for

from core import clock
from core.accounts import portal_sessions
from core.accounts import services as accounts
from core.accounts.roles import OFFICER_ROLES
from core.database import commit
from core.errors import AuthenticationFailed, DomainError, NotFound
from portal import csrf
from portal import sessions as portal_session
from portal.auth.forms import ChangePasswordForm, LoginForm, TotpForm
from portal.feedback import act
from portal.redirects import safe_target
from web.limiter import limiter

bp = Blueprint("portal_auth", __name__, url_prefix="/portal", template_folder="../templates")

PUBLIC_ENDPOINTS = frozenset({"portal_auth.login", "portal_auth.totp", "portal_static", "static"})
# reachable while a generated (one-time) password still has to be replaced
PASSWORD_CHANGE_ENDPOINTS = frozenset({"portal_auth.change_password", "portal_auth.logout"})
PENDING_LOGIN_SECONDS = 300

ENDED_MESSAGES = {
    "idle": "长时间未操作，请重新登录",
    "expired": "登录已超过最长有效时间，请重新登录",
    "revoked": "登录已失效，请重新登录",
}


def _lockout() -> dict:
    c = current_app.config
    return {"max_failures": c["PORTAL_MAX_FAILED_LOGINS"], "lockout_minutes": c["PORTAL_LOCKOUT_MINUTES"]}


def _policy() -> portal_sessions.SessionPolicy:
    return portal_sessions.SessionPolicy.from_config(current_app.config)


def _home() -> str:
    return url_for("portal_queue.index")


def _to_login():
    return redirect(url_for("portal_auth.login", next=safe_target(request.full_path, _home())))


def install_portal_guard(app: Flask) -> None:
    @app.before_request
    def _require_officer():
        if not request.path.startswith("/portal"):
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()  # every portal form, the log-in forms included
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        officer_id = getattr(session, "officer_id", None)
        if officer_id is None:
            ended = getattr(session, "ended", None)
            if ended:
                flash(ENDED_MESSAGES[ended], "warning")
            return _to_login()
        try:
            officer = accounts.get_officer(officer_id)
        except NotFound:
            portal_session.replace(None)
            return redirect(url_for("portal_auth.login"))
        g.officer = officer
        g.actor = accounts.officer_actor(officer, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
        if officer.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            flash("请先设置新密码（管理员重置的密码只能使用一次）", "warning")
            return redirect(url_for("portal_auth.change_password"))
        return None

    @app.context_processor
    def _inject():
        return {"current_officer": g.get("officer"), "role_labels": {k: v[0] for k, v in OFFICER_ROLES.items()}}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            officer = accounts.authenticate_officer(
                form.username.data, form.password.data, ip=request.remote_addr, **_lockout()
            )
        except AuthenticationFailed as err:
            if err.keep_changes:
                commit()
            flash(err.message, "error")
            return render_template("auth/login.html", form=form), 401
        # a new session id for the half-logged-in state: nothing from before the password survives
        portal_session.replace(
            None,
            {
                "pending_officer_id": officer.id,
                "pending_since": clock.utcnow().timestamp(),
                "next": safe_target(request.args.get("next"), _home()),
            },
        )
        commit()
        return redirect(url_for("portal_auth.totp"))
    return render_template("auth/login.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"])
def totp():
    pending = session.get("pending_officer_id")
    since = session.get("pending_since", 0)
    if not pending or clock.utcnow().timestamp() - since > PENDING_LOGIN_SECONDS:
        portal_session.replace(None)
        flash("请先输入用户名和密码", "warning")
        return redirect(url_for("portal_auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        try:
            officer = accounts.get_officer(pending)
            accounts.verify_officer_totp(officer, form.code.data, ip=request.remote_addr, **_lockout())
        except AuthenticationFailed as err:
            if err.keep_changes:
                commit()
            form.code.data = ""  # a wrong code is never left in the field: the next attempt starts empty
            form.code.raw_data = []
            form.code.errors = [err.message]
            return render_template("auth/totp.html", form=form), 401
        target = safe_target(session.get("next"), _home())
        portal_session.replace(officer.id)  # the logged-in session gets its own, new id
        commit()
        return redirect(target)
    return render_template("auth/totp.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    record = session.record
    if record is not None:
        portal_sessions.logout(g.actor, record)
    portal_session.replace(None)
    flash("您已安全退出", "info")
    return redirect(url_for("portal_auth.login"))


# --- the officer's own account ---------------------------------------------------------------

_BROWSERS = (
    ("Edg/", "Edge"),
    ("QQBrowser", "QQ浏览器"),
    ("360SE", "360浏览器"),
    ("MicroMessenger", "微信"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def browser_label(user_agent: str | None) -> str:
    """A short, readable name for a User-Agent string ("Chrome 120 · Windows")."""
    ua = user_agent or ""
    browser = next((label for marker, label in _BROWSERS if marker in ua), None)
    version = ""
    if browser:
        marker = next(m for m, label in _BROWSERS if label == browser)
        found = re.search(re.escape(marker.rstrip("/")) + r"/(\d+)", ua)
        version = f" {found.group(1)}" if found else ""
    system = next((label for marker, label in _SYSTEMS if marker in ua), None)
    parts = [f"{browser}{version}" if browser else "未知浏览器"]
    if system:
        parts.append(system)
    return " · ".join(parts)


@bp.route("/account/sessions")
def sessions():
    current_id = session.record_id
    rows = portal_sessions.active_sessions(g.officer.id, _policy())
    return render_template(
        "auth/sessions.html",
        rows=rows,
        current_id=current_id,
        browser_label=browser_label,
        absolute_hours=current_app.config["PORTAL_SESSION_ABSOLUTE_HOURS"],
        idle_minutes=current_app.config["PORTAL_IDLE_TIMEOUT_MINUTES"],
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
def end_session(session_id: int):
    def action() -> None:
        portal_sessions.end_other_session(g.actor, session_id, current_id=session.record_id, policy=_policy())

    return act(
        action,
        "已结束该登录会话",
        on_error=lambda status: (redirect(url_for("portal_auth.sessions")), 303),
        done_url=url_for("portal_auth.sessions"),
    )


@bp.route("/account/sessions/end-others", methods=["POST"])
def end_other_sessions():
    count = portal_sessions.end_other_sessions(g.actor, current_id=session.record_id, policy=_policy())
    flash(f"已结束其他{count}个登录会话" if count else "没有其他登录会话", "info")
    return redirect(url_for("portal_auth.sessions"))


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ended = accounts.change_own_password(
                g.actor,
                g.officer,
                form.current_password.data,
                form.new_password.data,
                form.confirm.data,
                current_session_id=session.record_id,
            )
        except DomainError as err:
            flash(err.message, "error")
            for field, messages in err.errors.items():
                if field in form:
                    form[field].errors = list(messages)
            return render_template("auth/password.html", form=form), err.status
        officer_id = g.officer.id
        portal_session.replace(officer_id)  # a new id after the privilege-relevant change
        commit()
        flash("密码已修改" + (f"，其他{ended}个登录会话已结束" if ended else ""), "info")
        return redirect(_home())
    return render_template("auth/password.html", form=form), (400 if request.method == "POST" else 200)
