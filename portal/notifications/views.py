"""The notification centre (通知中心) and the officer's digest preference."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.accounts import digest as preferences
from core.database import commit
from core.errors import DomainError
from core.notifications import inbox
from portal.redirects import safe_target

bp = Blueprint("portal_notifications", __name__, url_prefix="/portal", template_folder="../templates")


@bp.app_context_processor
def _unread():
    officer = g.get("officer")
    return {"unread_notifications": inbox.unread_count(officer.id) if officer is not None else 0}


@bp.route("/notifications")
def index():
    return render_template("notifications/index.html", notes=inbox.list_for(g.actor))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
def read(notification_id: int):
    note = inbox.mark_read(g.actor, notification_id)
    commit()
    return redirect(safe_target(note.link, url_for("portal_notifications.index")), 303)


@bp.route("/notifications/read-all", methods=["POST"])
def read_all():
    count = inbox.mark_all_read(g.actor)
    commit()
    flash(f"已将{count}条通知标为已读" if count else "没有未读通知", "info")
    return redirect(url_for("portal_notifications.index"), 303)


@bp.route("/account/notifications", methods=["GET", "POST"])
def preference():
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            preferences.set_digest_channel(
                g.actor, g.officer, request.form.get("channel", ""), request.form.get("phone")
            )
        except DomainError as err:
            errors, status = err.errors, err.status
            flash(err.message if not err.errors else "请按提示修改后再保存", "error")
        else:
            commit()
            flash("每日待办提醒的接收方式已保存", "info")
            return redirect(url_for("portal_notifications.preference"), 303)
    return render_template(
        "notifications/preference.html",
        channels=preferences.DIGEST_CHANNELS,
        errors=errors,
        form=request.form if request.method == "POST" else None,
    ), status
