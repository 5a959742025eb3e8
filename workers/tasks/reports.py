from __future__ import annotations

from celery import shared_task

from core.actor import SYSTEM
from core.database import commit
from core.reports import services as reports
from workers.retry import RETRY


@shared_task(name=reports.ESCALATE_TASK, acks_late=True, **RETRY)
def escalate_overdue() -> int:
    """Overdue first contacts go to the county queue (safe to run any number of times)."""
    count = reports.escalate_overdue(SYSTEM)
    commit()
    return count
