"""Department data loads (bulk queue) and their retention (beat). Thin: call core, commit."""

from __future__ import annotations

from celery import shared_task

from core.database import commit
from core.exchange import ingest, retention
from workers.retry import RETRY


@shared_task(name=ingest.RUN_TASK, acks_late=True, **RETRY)
def run_load(load_id: int) -> dict:
    """Check and store a queued file load. Safe to run twice: only one run claims it."""
    load = ingest.run_load(load_id)
    commit()
    if load is None:
        return {"load": load_id, "status": "missing"}
    return {"load": load.id, "status": load.status, "accepted": load.rows_accepted, "rejected": load.rows_rejected}


@shared_task(name="exchange.purge_expired", acks_late=True, **RETRY)
def purge_expired() -> int:
    """Delete the department data whose retention has ended (audited; files removed after commit)."""
    count = retention.purge_expired()
    commit()
    return count
