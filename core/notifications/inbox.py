"""The officers' portal inbox (通知中心): the ``portal`` outbox channel writes here; officers read their own."""

from __future__ import annotations

from sqlalchemy import func, select, update

from core import clock
from core.actor import Actor
from core.database import db
from core.errors import NotFound
from core.notifications.models import OutboxMessage, PortalNotification

CHANNEL = "portal"
RECIPIENT_PREFIX = "officer:"


def recipient_for(officer_id: int) -> str:
    return f"{RECIPIENT_PREFIX}{officer_id}"


def render(template: str, payload: dict) -> tuple[str, str, str | None]:
    """Title, body and link of an inbox message, in Chinese."""
    if template == "daily_digest":
        return (
            f"每日待办提醒（{payload.get('date', '')}）",
            f"辖区在办{payload.get('open', 0)}件，其中已超期{payload.get('overdue', 0)}件，"
            f"{payload.get('due_soon_days', 2)}个工作日内到期{payload.get('due_soon', 0)}件。",
            "/portal/queue?bucket=overdue" if payload.get("overdue") else "/portal/queue?bucket=due_soon",
        )
    if template == "registry_transfer":  # core.registry.transfers: a step of an eligibility transfer
        link = str(payload.get("link") or "")
        return (str(payload.get("title") or "资格转移")[:100], str(payload.get("text", ""))[:1000], link or None)
    return ("系统通知", str(payload.get("text", ""))[:1000], None)


def store(message: OutboxMessage, payload: dict) -> PortalNotification:
    """Deliver an outbox message of the ``portal`` channel: one inbox row per message (the unique
    outbox id makes a second delivery impossible); written in the delivering task's transaction."""
    recipient = message.recipient
    if not recipient.startswith(RECIPIENT_PREFIX) or not recipient[len(RECIPIENT_PREFIX) :].isdigit():
        raise ValueError("portal inbox recipient must be officer:<id>")
    existing = db.session.scalar(select(PortalNotification).where(PortalNotification.outbox_message_id == message.id))
    if existing is not None:
        return existing
    title, body, link = render(message.template, payload)
    note = PortalNotification(
        officer_id=int(recipient[len(RECIPIENT_PREFIX) :]),
        outbox_message_id=message.id,
        template=message.template,
        title=title,
        body=body,
        link=link,
    )
    db.session.add(note)
    db.session.flush()
    return note


def unread_count(officer_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(PortalNotification)
            .where(PortalNotification.officer_id == officer_id, PortalNotification.read_at.is_(None))
        )
        or 0
    )


def list_for(actor: Actor, *, limit: int = 100) -> list[PortalNotification]:
    return list(
        db.session.scalars(
            select(PortalNotification)
            .where(PortalNotification.officer_id == actor.id)
            .order_by(PortalNotification.created_at.desc(), PortalNotification.id.desc())
            .limit(limit)
        )
    )


def mark_read(actor: Actor, notification_id: int) -> PortalNotification:
    """Mark one of the officer's own messages read (another officer's: not found)."""
    note = db.session.scalar(
        select(PortalNotification).where(
            PortalNotification.id == notification_id, PortalNotification.officer_id == actor.id
        )
    )
    if note is None:
        raise NotFound("未找到该通知")
    note.read_at = note.read_at or clock.utcnow()
    return note


def mark_all_read(actor: Actor) -> int:
    result = db.session.execute(
        update(PortalNotification)
        .where(PortalNotification.officer_id == actor.id, PortalNotification.read_at.is_(None))
        .values(read_at=clock.utcnow())
    )
    return result.rowcount or 0
