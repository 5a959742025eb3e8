"""Payment rolls (发放名册): the monthly beat job that drafts next month's roll of every county."""

from __future__ import annotations

from celery import shared_task

from core.actor import SYSTEM
from core.database import commit
from core.registry import rolls
from workers.retry import RETRY

DRAFT_TASK = "registry.draft_next_rolls"


@shared_task(name=DRAFT_TASK, acks_late=True, **RETRY)
def draft_next_rolls(month: str | None = None) -> dict:
    """Draft (or refresh the draft of) next month's roll for each county with enrollments; submitted and
    locked rolls are skipped. Safe to run twice: one roll per county and month."""
    run = rolls.draft_due_rolls(month, actor=SYSTEM)
    commit()
    return {"month": run.month, "drafted": run.drafted, "skipped": run.skipped}
