from __future__ import annotations

from celery import shared_task
from flask import current_app

from core.database import commit
from core.idempotency import services as idem


@shared_task(name="maintenance.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    removed = idem.purge_expired(current_app.config["IDEMPOTENCY_TTL_HOURS"])
    commit()
    return removed
