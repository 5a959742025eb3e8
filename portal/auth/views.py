"""Officer log-in: password, then TOTP; idle time-out; deny by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for

from core import clock
from core.accounts import services as accounts
from core.accounts.roles import OFFICER_ROLES
from core.database import commit
from core.errors import AuthenticationFailed, NotFound
from miniprogram_api.extensions import limiter
from portal import csrf
from portal.auth.forms import LoginForm, TotpForm

bp = Blueprint("portal_auth", __name__, url_prefix="/portal", template_folder="../templates")

PUBLIC_ENDPOINTS = frozenset({"portal_auth.login", "portal_auth.totp", "portal_static", "static"})


def _lockout() -> dict:
    c = current_app.config
    return {"max_failures": c["PORTAL_MAX_FAILED_LOGINS"], "lockout_minutes": c["PORTAL_LOCKOUT_MINUTES"]}


def install_portal_guard(app: Flask) -> None:
    @app.before_request
    def _require_officer():
        if not request.path.startswith("/portal"):
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()  # every portal form, the log-in forms included
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        officer_id = session.get("officer_id")
        last_seen = session.get("last_seen")
        idle = timedelta(minutes=current_app.config["PORTAL_IDLE_TIMEOUT_MINUTES"])
        now = clock.utcnow()
        if officer_id and last_seen and now - datetime.fromtimestamp(last_seen, UTC) > idle:
            session.clear()
            flash("长时间未操作，请重新登录", "warning")
            return redirect(url_for("portal_auth.login", next=request.full_path))
        if not officer_id:
            return redirect(url_for("portal_auth.login", next=request.full_path))
        try:
            officer = accounts.get_officer(officer_id)
        except NotFound:
            session.clear()
            return redirect(url_for("portal_auth.login"))
        session["last_seen"] = now.timestamp()
        g.officer = officer
        g.actor = accounts.officer_actor(officer, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
        return None

    @app.context_processor
    def _inject():
        return {"current_officer": g.get("officer"), "role_labels": {k: v[0] for k, v in OFFICER_ROLES.items()}}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/portal") and not target.startswith("//"):
        return target
    return url_for("portal_queue.index")


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
        session.clear()  # no session fixation across the log-in
        session["pending_officer_id"] = officer.id
        session["pending_since"] = clock.utcnow().timestamp()
        session["next"] = _safe_next(request.args.get("next"))
        commit()
        return redirect(url_for("portal_auth.totp"))
    return render_template("auth/login.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit("30 per 15 minutes", methods=["POST"])
def totp():
    pending = session.get("pending_officer_id")
    since = session.get("pending_since", 0)
    if not pending or clock.utcnow().timestamp() - since > 300:
        session.clear()
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
            flash(err.message, "error")
            return render_template("auth/totp.html", form=form), 401
        target = session.get("next") or url_for("portal_queue.index")
        session.clear()
        session.permanent = True
        session["officer_id"] = officer.id
        session["last_seen"] = clock.utcnow().timestamp()
        commit()
        return redirect(_safe_next(target))
    return render_template("auth/totp.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash("您已安全退出", "info")
    return redirect(url_for("portal_auth.login"))
