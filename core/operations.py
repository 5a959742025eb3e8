"""What the system administrators settle by hand: tasks that failed for good and messages whose delivery
is unknown (docs/deployment.md, "Delivery guarantees"). Every action is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core.actor import Actor
from core.audit import services as audit
from core.database import TaskOutbox, db, enqueue_after_commit
from core.errors import Conflict, NotFound, PermissionDenied
from core.notifications import services as outbox
from core.notifications.models import OutboxMessage

ADMIN_ROLES = frozenset({"system_admin"})
STUCK_MESSAGE_STATUSES = ("unknown", "failed")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Stuck:
    dead_tasks: list[TaskOutbox]
    messages: list[OutboxMessage]
    counts: dict[str, int]


def _require_admin(actor: Actor) -> None:
    if not ADMIN_ROLES & set(actor.roles):
        raise PermissionDenied("仅系统管理员可处理失败任务和状态不明的消息", code="forbidden")


def stuck(actor: Actor) -> Stuck:
    _require_admin(actor)
    dead = db.session.scalars(
        select(TaskOutbox).where(TaskOutbox.status == "dead").order_by(TaskOutbox.id.desc()).limit(PAGE_SIZE)
    ).all()
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(STUCK_MESSAGE_STATUSES))
        .order_by(OutboxMessage.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    counts: dict[str, Any] = dict(
        db.session.execute(select(TaskOutbox.status, func.count()).group_by(TaskOutbox.status)).all()
    )
    for status, n in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all():
        counts[f"message_{status}"] = n
    return Stuck(list(dead), list(messages), counts)


def requeue_task(actor: Actor, task_id: int) -> TaskOutbox:
    """Run a dead task again (a new row, published after commit); the dead row is kept as ``requeued``."""
    _require_admin(actor)
    row = db.session.scalar(select(TaskOutbox).where(TaskOutbox.id == task_id).with_for_update())
    if row is None:
        raise NotFound("未找到该任务", code="not_found")
    if row.status != "dead":
        raise Conflict("该任务已重新排队或无需处理", code="conflict")
    row.status = "requeued"
    enqueue_after_commit(row.name, *row.args, queue=row.queue)
    audit.record(actor, "operations.requeue_task", row, task=row.name)
    return row


def settle_message(actor: Actor, message_id: int, outcome: str) -> OutboxMessage:
    """``resend``: the officer checked that it never arrived (or it failed): send again, same request id.
    ``delivered``: it did arrive (the recipient confirmed): mark it sent, never send again."""
    _require_admin(actor)
    if outcome not in ("resend", "delivered"):
        raise Conflict("处理方式不正确", code="conflict")
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update())
    if message is None:
        raise NotFound("未找到该消息", code="not_found")
    if message.status not in STUCK_MESSAGE_STATUSES:
        raise Conflict("该消息已处理", code="conflict")
    before = message.status
    if outcome == "resend":
        message.status = "pending"
        message.attempts = 0
        enqueue_after_commit(outbox.DELIVER_TASK, message.id, queue="notify")
    else:
        message.status = "sent"
        message.last_error = f"{message.last_error or ''}; 管理员确认已送达"[:500]
    audit.record(
        actor, "operations.settle_message", message, outcome=outcome, changes={"status": [before, message.status]}
    )
    return message
