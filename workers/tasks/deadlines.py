from __future__ import annotations

from celery import shared_task

from core.actor import SYSTEM
from core.database import commit
from core.desk import deadlines
from workers.retry import RETRY


@shared_task(name=deadlines.TASK, acks_late=True, **RETRY)
def check_deadlines() -> dict:
    """Stamp overdue steps, escalate overdue cases to the county, queue the officers' daily digest."""
    result = deadlines.check(SYSTEM)
    commit()
    return result
