from __future__ import annotations

from celery import shared_task
from flask import current_app

from core.accounts import portal_sessions
from core.database import commit, relay_pending_tasks
from core.exchange import clients as exchange_clients
from core.files import storage
from core.idempotency import services as idem
from workers.retry import RETRY


@shared_task(name="maintenance.purge_idempotency_records", acks_late=True, **RETRY)
def purge_idempotency_records() -> int:
    removed = idem.purge_expired(current_app.config["IDEMPOTENCY_TTL_HOURS"])
    commit()
    return removed


@shared_task(name="maintenance.purge_portal_sessions", acks_late=True, **RETRY)
def purge_portal_sessions() -> int:
    """Delete ended portal sessions (logged out, revoked, idle or past their absolute lifetime)."""
    removed = portal_sessions.purge(portal_sessions.SessionPolicy.from_config(current_app.config))
    commit()
    return removed


@shared_task(name="maintenance.relay_pending_tasks", acks_late=True, **RETRY)
def relay_pending() -> int:
    """Publish task rows the request could not hand to the broker (it was down, or the process died)."""
    return relay_pending_tasks(older_than_seconds=current_app.config["TASK_RELAY_AFTER_SECONDS"])


@shared_task(name="maintenance.sweep_orphan_files", acks_late=True, **RETRY)
def sweep_orphan_files() -> dict[str, int]:
    """Remove stored files no row names, older than ORPHAN_FILE_MIN_AGE_HOURS (a process died between
    writing the file and committing its row)."""
    result = storage.sweep_orphans(current_app.config["ORPHAN_FILE_MIN_AGE_HOURS"])
    commit()  # read-only: ends the transaction
    if result.refused:  # not transient: recorded as a dead task for the administrators to look at
        raise RuntimeError(f"orphan sweep refused: the database names no stored file, {len(result.orphans)} old")
    removed = 0 if result.dry_run else len(result.orphans)
    return {"scanned": result.scanned, "removed": removed, "bytes": result.bytes, "refused": result.refused}


@shared_task(name="maintenance.sweep_exchange_nonces", acks_late=True, **RETRY)
def sweep_exchange_nonces() -> int:
    """Forget department request nonces older than the signature clock window (they fail its check anyway)."""
    removed = exchange_clients.sweep_nonces()
    commit()
    return removed
