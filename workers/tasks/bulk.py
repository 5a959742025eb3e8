"""Bulk jobs on the ``bulk`` queue: the anti-fraud cross-check (on demand, nightly, after each load) and
the per-application economic check."""

from __future__ import annotations

from celery import shared_task

from core.actor import SYSTEM
from core.bulk import crosscheck
from core.checks import services as checks
from core.database import commit
from workers.retry import RETRY


@shared_task(name=crosscheck.RUN_TASK, acks_late=True, **RETRY)
def run_antifraud(job_id: int) -> dict:
    job = crosscheck.run(job_id)
    return {"job": job_id, "status": job.status if job else None}


@shared_task(name="bulk.antifraud_scheduled", acks_late=True, **RETRY)
def antifraud_scheduled() -> dict:
    """The nightly run of every recipient against every current category."""
    job = crosscheck.start(SYSTEM, trigger="schedule")
    commit()
    return {"job": job.id}


@shared_task(name="bulk.antifraud_after_load", acks_late=True, **RETRY)
def antifraud_after_load() -> dict:
    """Every few minutes: a run when a load completed since the last one (the catalogue's loads end on
    the same queue; this keeps core.exchange free of a dependency on the cross-check)."""
    if not crosscheck.due_after_load():
        return {"job": None}
    job = crosscheck.start(SYSTEM, trigger="load")
    commit()
    prepare_lookup_copies.delay()
    return {"job": job.id}


@shared_task(name="bulk.prepare_lookup_copies", acks_late=True, **RETRY)
def prepare_lookup_copies() -> dict:
    """After a load: the sorted look-up copies of the current files (core.checks.lookup_copies), so the
    next household check does not build them; copies of purged files go."""
    return {"prepared": checks.prepare_lookup_copies(), "removed": checks.sweep_lookup_copies()}


@shared_task(name=checks.RUN_TASK, acks_late=True, **RETRY)
def run_check(check_id: int) -> dict:
    check = checks.run(check_id)
    commit()
    return {"check": check_id, "status": check.status if check else None}
