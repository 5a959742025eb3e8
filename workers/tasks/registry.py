"""The registry's after-submit work: a submitted application's members become persons (一人一档)."""

from __future__ import annotations

from celery import shared_task

from core.database import commit
from core.registry import services as registry
from workers.retry import RETRY


@shared_task(name=registry.LINK_TASK, acks_late=True, **RETRY)
def link_application(application_id: int) -> bool:
    """Link the members to persons (idempotent: a second run matches the same persons and adds no fact)."""
    linked = registry.link_application(application_id)
    commit()
    return linked
