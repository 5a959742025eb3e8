"""The outbox: services add messages in their transaction; a task sends them after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from core import clock
from core.database import commit, db, enqueue_after_commit
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


def request_id(message: OutboxMessage) -> str:
    """The provider's de-duplication id of a message: the same on every attempt."""
    return f"rl-outbox-{message.id}"


def _locked(message_id: int) -> OutboxMessage | None:
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update())


def deliver(message_id: int) -> str:
    """Send one message, once. Returns the resulting status; raises SendError for a failure worth retrying.

    The claim (``sending``) is committed before the gateway is called, so a worker killed mid-send leaves a
    ``sending`` row that is never sent blindly again: ``reconcile_sending`` asks the provider (SMS) or marks
    it ``unknown`` for an officer (WeChat, which cannot be asked). Every attempt carries the same request id,
    which a de-duplicating provider (the SMS relay) uses to send a repeat only once.
    """
    message = _locked(message_id)
    if message is None:
        log.warning("outbox message %s not found", message_id)
        return "missing"
    if message.status != "pending":
        return message.status
    assert _channel_factory is not None, "channel factory not configured"
    payload = {k: v for k, v in message.payload.items() if k != "_redact"}
    message.attempts += 1
    if message.channel == inbox.CHANNEL:  # the officers' portal inbox: a row in this database, atomic
        try:
            provider_id = f"inbox-{inbox.store(message, payload).id}"
        except ValueError as exc:
            message.last_error, message.status = str(exc)[:500], "failed"
            return "failed"
        return _sent(message, payload, provider_id)
    message.status = "sending"
    message.claimed_at = clock.utcnow()
    commit()  # the claim lands before the world is touched (releases the row lock)
    channel = _channel_factory(message.channel)
    try:
        provider_id = channel.send(message.recipient, message.template, payload, request_id=request_id(message))
    except SendError as exc:
        message = _locked(message_id)
        message.last_error = str(exc)[:500]
        if exc.ambiguous and not getattr(channel, "deduplicates", False):
            message.status = "unknown"  # it may have been delivered: never sent twice, an officer checks
            return "unknown"
        if exc.permanent or message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            return "failed"
        message.status = "pending"
        raise
    message = _locked(message_id)
    return _sent(message, payload, provider_id)


def _sent(message: OutboxMessage, payload: dict, provider_id: str | None) -> str:
    message.status = "sent"
    message.sent_at = clock.utcnow()
    message.provider_message_id = provider_id
    redact = message.payload.get("_redact") or []
    if redact:  # one-time secrets (log-in codes) are not kept once sent
        message.payload = {k: ("******" if k in redact else v) for k, v in payload.items()}
    return "sent"


def reconcile_sending(*, older_than_seconds: int = 300, limit: int = 200) -> dict[str, int]:
    """Settle messages left ``sending`` by a worker that died between the claim and the answer: a provider
    that can be asked decides (received → sent; never arrived → pending, sent again with the same request
    id); otherwise ``unknown`` — not resent, listed for an officer. Returns counts by outcome."""
    assert _channel_factory is not None, "channel factory not configured"
    cutoff = clock.utcnow() - timedelta(seconds=older_than_seconds)
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < cutoff)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    counts = {"sent": 0, "pending": 0, "unknown": 0}
    for message in db.session.scalars(stmt).all():
        channel = _channel_factory(message.channel)
        try:
            found = channel.lookup(request_id(message))
        except SendError as exc:
            message.status, message.last_error = "unknown", f"not resent: {exc}"[:500]
            counts["unknown"] += 1
            continue
        if found is None:
            message.status = "pending"
            enqueue_after_commit(DELIVER_TASK, message.id, queue="notify")
            counts["pending"] += 1
        else:
            _sent(message, {k: v for k, v in message.payload.items() if k != "_redact"}, found)
            counts["sent"] += 1
    return counts
