from __future__ import annotations

from celery import shared_task

from core.casework import services as casework
from core.database import commit
from workers.retry import RETRY


@shared_task(name=casework.ROUTED_TASK, acks_late=True, **RETRY)
def case_opened(case_id: int) -> bool:
    """Stamp a newly opened case as routed to its township queue (idempotent)."""
    changed = casework.mark_routed(case_id)
    commit()
    return changed
