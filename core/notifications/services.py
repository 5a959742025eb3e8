"""The outbox: services add messages in their transaction; a task sends them after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from core import clock
from core.database import db, enqueue_after_commit
from core.notifications import inbox
from core.notifications.channels import Channel, SendError
from core.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

DELIVER_TASK = "notify.deliver"
MAX_ATTEMPTS = 6

_channel_factory: Callable[[str], Channel] | None = None


def set_channel_factory(factory: Callable[[str], Channel]) -> None:
    global _channel_factory
    _channel_factory = factory


def enqueue(
    channel: str,
    recipient: str,
    template: str,
    payload: dict,
    *,
    dedupe_key: str | None = None,
    redact_after_send: tuple[str, ...] = (),
) -> OutboxMessage:
    if dedupe_key:
        existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        template=template,
        payload={**payload, "_redact": list(redact_after_send)} if redact_after_send else payload,
        dedupe_key=dedupe_key,
        status="pending",
        attempts=0,
    )
    db.session.add(message)
    db.session.flush()
    enqueue_after_commit(DELIVER_TASK, message.id, queue="notify")
    return message


def deliver(message_id: int) -> str:
    """Send one message. Safe to run twice: a sent message is not sent again.

    Returns the resulting status. Raises SendError for a failure worth retrying.
    """
    stmt = select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
    message = db.session.scalar(stmt)
    if message is None:
        log.warning("outbox message %s not found", message_id)
        return "missing"
    if message.status != "pending":
        return message.status
    assert _channel_factory is not None, "channel factory not configured"
    payload = {k: v for k, v in message.payload.items() if k != "_redact"}
    message.attempts += 1
    try:
        if message.channel == inbox.CHANNEL:  # the officers' portal inbox: a row in this database
            try:
                provider_id = f"inbox-{inbox.store(message, payload).id}"
            except ValueError as exc:
                raise SendError(str(exc), permanent=True) from exc
        else:
            provider_id = _channel_factory(message.channel).send(message.recipient, message.template, payload)
    except SendError as exc:
        message.last_error = str(exc)[:500]
        if exc.permanent or message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            return "failed"
        raise
    message.status = "sent"
    message.sent_at = clock.utcnow()
    message.provider_message_id = provider_id
    redact = message.payload.get("_redact") or []
    if redact:  # one-time secrets (log-in codes) are not kept once sent
        message.payload = {k: ("******" if k in redact else v) for k, v in payload.items()}
    return "sent"
