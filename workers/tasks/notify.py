from __future__ import annotations

from celery import shared_task
from flask import current_app

from core.applications import services as applications
from core.database import commit
from core.notifications import services as outbox
from core.notifications.channels import SendError
from workers.retry import RETRY


@shared_task(name=outbox.DELIVER_TASK, bind=True, max_retries=outbox.MAX_ATTEMPTS, acks_late=True)
def deliver(self, message_id: int) -> str:  # noqa: ANN001
    """Send one outbox message; retried with exponential back-off; never sent twice."""
    try:
        status = outbox.deliver(message_id)
    except SendError as exc:
        commit()  # keep the attempt count and error
        raise self.retry(exc=exc, countdown=min(3600, 10 * 2**self.request.retries)) from exc
    commit()
    return status


@shared_task(name="notify.reconcile_sending", acks_late=True, **RETRY)
def reconcile_sending() -> dict:
    """Settle messages a crashed worker left ``sending`` (ask the provider, or mark unknown; never resend blindly)."""
    counts = outbox.reconcile_sending(older_than_seconds=current_app.config["NOTIFY_RECONCILE_AFTER_SECONDS"])
    commit()
    return counts


@shared_task(name=applications.NOTIFY_TASK, acks_late=True, **RETRY)
def application_events(application_id: int) -> int:
    """Write the outbox messages of an application's new timeline events (safe to run twice)."""
    handled = applications.notify_pending(application_id)
    commit()
    return handled


@shared_task(name="notify.requeue_unnotified_events", acks_late=True, **RETRY)
def requeue_unnotified_events() -> int:
    """Beat: timeline events still without messages get their notify task again (safe to run twice)."""
    count = applications.requeue_unnotified(older_than_seconds=current_app.config["NOTIFY_EVENTS_SWEEP_AFTER_SECONDS"])
    commit()
    return count
