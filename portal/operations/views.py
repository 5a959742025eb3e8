"""System administrators: tasks that failed for good and messages whose delivery is unknown (运行维护)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core import operations
from core.database import commit
from core.notifications.models import OutboxMessage

bp = Blueprint("portal_operations", __name__, url_prefix="/portal/operations", template_folder="../templates")

MESSAGE_STATUS_LABELS = {"unknown": "状态不明（未重发）", "failed": "发送失败"}


@bp.route("")
def index():
    return render_template(
        "operations/index.html", stuck=operations.stuck(g.actor), message_labels=MESSAGE_STATUS_LABELS
    )


@bp.route("/tasks/<int:task_id>/requeue", methods=["POST"])
def requeue(task_id: int):
    row = operations.requeue_task(g.actor, task_id)
    commit()
    flash(f"任务 {row.name} 已重新排队", "info")
    return redirect(url_for("portal_operations.index"), 303)


@bp.route("/messages/<int:message_id>/settle", methods=["POST"])
def settle(message_id: int):
    outcome = request.form.get("outcome", "")
    message: OutboxMessage = operations.settle_message(g.actor, message_id, outcome)
    commit()
    flash("已重新发送" if outcome == "resend" else "已标记为已送达", "info")
    return redirect(url_for("portal_operations.index", _anchor=f"message-{message.id}"), 303)
