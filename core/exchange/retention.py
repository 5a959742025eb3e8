"""Retention (PIPL): a load's department data are deleted when its category's retention ends.

``purge_expired`` marks every completed or failed load older than its category's ``retention_days``
``purged`` (the catalogue row stays, with its provenance and counts: what was held, from whom, until
when), audits it, and deletes its Parquet directory and error report once the transaction commits.
The beat runs it daily (``exchange.purge_expired``).
"""

from __future__ import annotations

from datetime import datetime

from core import clock
from core.actor import SYSTEM, Actor
from core.audit import services as audit
from core.database import after_commit, db
from core.exchange import store
from core.exchange.catalogue import DataCategory
from core.exchange.models import Department


def purge_expired(actor: Actor = SYSTEM, *, now: datetime | None = None) -> int:
    now = now or clock.utcnow()
    purged = 0
    for load in store.purge_candidates(now):
        category = db.session.get(DataCategory, load.category_id)
        department = db.session.get(Department, load.department_id)
        after_commit(store.remove_dir, load.storage_path)
        after_commit(store.remove_file, load.error_report_key)
        if load.source_key:
            after_commit(store.remove_file, load.source_key)
        before = load.status
        load.status, load.stage, load.purged_at = "purged", "purged", now
        load.source_key = None
        audit.record(
            actor,
            "exchange.load.purge",
            load,
            region=department.region_code if department else None,
            changes={"status": [before, "purged"]},
            category=category.code if category else None,
            retention_days=category.retention_days if category else None,
            rows=load.rows_accepted,
        )
        purged += 1
    db.session.flush()
    return purged
