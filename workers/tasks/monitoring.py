"""Monitoring evaluation on the ``bulk`` queue: after loads (a sweep of loads not yet evaluated, and by
load id), and nightly in full after the roster is rebuilt. Thin: call core, commit."""

from __future__ import annotations

from celery import shared_task

from core.actor import SYSTEM
from core.database import commit
from core.monitoring import evaluation, roster
from workers.retry import RETRY

EVALUATE_LOAD = "monitoring.evaluate_load"


@shared_task(name=EVALUATE_LOAD, acks_late=True, **RETRY)
def evaluate_load(load_id: int) -> dict:
    """Evaluate one department load (once per load: a second run returns at once)."""
    run = evaluation.run_load(load_id)
    commit()
    return {"load": load_id, "created": run.created if run else 0, "skipped": run is None}


@shared_task(name="monitoring.evaluate_new_loads", acks_late=True, **RETRY)
def evaluate_new_loads() -> int:
    """Every completed department load not yet evaluated, one transaction each."""
    done = 0
    for load_id in evaluation.pending_loads():
        evaluation.run_load(load_id)
        commit()
        done += 1
    return done


@shared_task(name="monitoring.nightly", acks_late=True, **RETRY)
def nightly() -> dict:
    """Rebuild the roster, then evaluate everyone against every rule."""
    roster.rebuild(SYSTEM)
    commit()
    run = evaluation.run_full()
    commit()
    return {"created": run.created if run else 0, "persons": run.persons if run else 0}
