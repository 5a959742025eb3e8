"""Figures for the township and county dashboards (set-based queries; Python only for medians)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from core import access, clock, workdays
from core.actor import Actor
from core.casework.models import Case
from core.casework.services import scope_filter
from core.database import db
from core.desk.queues import BUCKETS
from core.regions.services import names_for
from core.reports.models import Report

MONTHS = 12


def open_by_stage(actor: Actor) -> list[dict]:
    rows = db.session.execute(
        scope_filter(select(Case.stage, func.count()), actor)
        .where(Case.status != "closed", Case.is_info_copy.is_(False))
        .group_by(Case.stage)
    ).all()
    counts = dict(rows)
    return [
        {"stage": k, "label": v, "count": counts.get(k, 0)} for k, v in BUCKETS.items() if k not in ("overdue", "all")
    ]


def decisions(actor: Actor) -> dict:
    """Share decided within the statutory limit, and the median working days from submission to decision."""
    since = clock.utcnow() - timedelta(days=31 * MONTHS)
    rows = db.session.execute(
        scope_filter(select(Case.created_at, Case.decided_at, Case.limit_date), actor).where(
            Case.kind == "application", Case.decided_at.is_not(None), Case.decided_at >= since
        )
    ).all()
    by_month: dict[str, list[int]] = defaultdict(list)
    on_time = 0
    for created, decided, limit in rows:
        decided_day = clock.to_local(decided).date()
        days = workdays.working_days_between(clock.to_local(created).date(), decided_day)
        by_month[f"{decided_day:%Y-%m}"].append(days)
        if limit is None or decided_day <= limit:
            on_time += 1
    trend = [
        {"month": m, "median_working_days": statistics.median(v), "decided": len(v)}
        for m, v in sorted(by_month.items())
    ]
    return {
        "decided": len(rows),
        "on_time": on_time,
        "on_time_share": round(on_time / len(rows), 3) if rows else None,
        "trend": trend,
    }


def reports_first_contact(actor: Actor) -> list[dict]:
    """Per township: reports whose first contact was made by the deadline."""
    clause = access.under(actor, Report.township_code)  # an empty scope sees nothing
    rows = db.session.execute(
        select(Report.township_code, Report.first_contact_due, Report.contacted_at).where(
            clause, Report.duplicate_of_id.is_(None), Report.first_contact_due.is_not(None)
        )
    ).all()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for township, due, contacted in rows:
        totals[township][0] += 1
        if contacted is not None and clock.to_local(contacted).date() <= due:
            totals[township][1] += 1
    names = names_for(totals)
    return [
        {
            "township_code": t,
            "township": names.get(t, t),
            "reports": n,
            "answered_in_time": ok,
            "share": round(ok / n, 3) if n else None,
        }
        for t, (n, ok) in sorted(totals.items())
    ]


def summary(actor: Actor) -> dict:
    return {
        "open_by_stage": open_by_stage(actor),
        "decisions": decisions(actor),
        "reports": reports_first_contact(actor),
    }
