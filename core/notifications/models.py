from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db


class OutboxMessage(db.Model):
    """A message to send after the transaction that created it commits."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # sms | wechat | console | portal (the officers' inbox)
    recipient: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON)
    # pending | sending (claimed, the gateway is being called) | sent | failed | unknown (may have been
    # delivered; not resent — see core.notifications.services.deliver)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the last send began
    provider_message_id: Mapped[str | None] = mapped_column(String(100))


class PortalNotification(db.Model):
    """A message in an officer's portal inbox (通知中心), written when its outbox message is delivered."""

    __tablename__ = "portal_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), unique=True)
    template: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_portal_notifications_officer_read", "officer_id", "read_at"),)
