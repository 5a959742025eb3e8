"""Figures for the township and county dashboards.

Every case count here is a queue's count (``queues.count`` / ``queues.counts_of`` /
``queues.count_by_township``: the conditions the queue page runs), so a number on the dashboard and the
total of the queue it links to cannot differ. Python only computes medians and shares.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from core import access, clock, workdays
from core.actor import Actor
from core.casework.models import Case
from core.casework.services import scope_filter
from core.database import db
from core.desk import queues
from core.regions.services import list_children, names_for
from core.reports.models import Report

MONTHS = 12


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def open_by_stage(actor: Actor) -> list[dict]:
    """Open cases per stage bucket of the queue (reports included), each the count of that queue tab."""
    stages = {**queues.STAGE_BUCKETS, "report": queues.BUCKETS["report"]}
    return [{"stage": k, "label": v, "count": queues.count(actor, bucket=k)} for k, v in stages.items()]


def township_desk(actor: Actor) -> dict:
    """The first screen of a township officer: overdue, due within two working days, new today —
    for the township and, of those, assigned to the officer."""
    today = clock.local_today()
    buckets = ("overdue", "due_soon", "new_today")
    every, mine = queues.counts_of(actor, buckets), queues.counts_of(actor, buckets, assignee=actor.id)
    figures = {b: {"label": queues.BUCKETS[b], "all": every[b], "mine": mine[b]} for b in buckets}
    return {"today": today.isoformat(), "due_soon_until": queues.due_soon_limit(today).isoformat(), **figures}


def _decision_rows(actor: Actor):
    since = clock.utcnow() - timedelta(days=31 * MONTHS)
    return db.session.execute(
        scope_filter(select(Case.township_code, Case.created_at, Case.decided_at, Case.limit_date), actor).where(
            Case.kind == "application", Case.decided_at.is_not(None), Case.decided_at >= since
        )
    ).all()


def _working_days(created, decided) -> int:  # noqa: ANN001
    return workdays.working_days_between(clock.to_local(created).date(), clock.to_local(decided).date())


def _on_time(decided, limit) -> bool:  # noqa: ANN001
    return limit is None or clock.to_local(decided).date() <= limit


def decisions(actor: Actor) -> dict:
    """Share decided within the statutory limit (in %), and the median working days from submission to decision."""
    rows = _decision_rows(actor)
    by_month: dict[str, list[int]] = defaultdict(list)
    on_time = 0
    for _, created, decided, limit in rows:
        by_month[f"{clock.to_local(decided).date():%Y-%m}"].append(_working_days(created, decided))
        on_time += _on_time(decided, limit)
    trend = [
        {"month": m, "median_working_days": statistics.median(v), "decided": len(v)}
        for m, v in sorted(by_month.items())
    ]
    return {"decided": len(rows), "on_time": on_time, "on_time_percent": _percent(on_time, len(rows)), "trend": trend}


def _report_scope(actor: Actor):
    """Reports of the officer's region; no region means no reports (never all of them) — core.access."""
    return access.under(actor, Report.township_code)


def _report_rows(actor: Actor):
    return db.session.execute(
        select(Report.township_code, Report.first_contact_due, Report.contacted_at).where(
            _report_scope(actor), Report.duplicate_of_id.is_(None), Report.first_contact_due.is_not(None)
        )
    ).all()


def _report_totals(actor: Actor) -> dict[str, list[int]]:
    """Per township: [reports already due, of which answered by the deadline].

    A report counts once its deadline has passed or once it was answered; a report still within its
    deadline and not yet answered is neither a success nor a failure.
    """
    today = clock.local_today()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for township, due, contacted in _report_rows(actor):
        answered_day = clock.to_local(contacted).date() if contacted is not None else None
        if answered_day is None and due >= today:
            continue
        totals[township][0] += 1
        if answered_day is not None and answered_day <= due:
            totals[township][1] += 1
    return totals


def reports_first_contact(actor: Actor) -> list[dict]:
    """Per township: reports whose first contact was made by the deadline (only reports already due)."""
    totals = _report_totals(actor)
    names = names_for(totals)
    return [
        {
            "township_code": t,
            "township": names.get(t, t),
            "reports": n,
            "answered_in_time": ok,
            "percent": _percent(ok, n),
        }
        for t, (n, ok) in sorted(totals.items())
    ]


def by_township(actor: Actor) -> list[dict]:
    """The county's table: per township open, overdue, % decided within the limit, median working days,
    % of due reports answered on time. Open and overdue are the queue's own counts for that township."""
    open_counts = queues.count_by_township(actor, bucket="all")
    overdue_counts = queues.count_by_township(actor, bucket="overdue")
    decided: dict[str, list] = defaultdict(list)
    for township, created, decided_at, limit in _decision_rows(actor):
        decided[township].append((_working_days(created, decided_at), _on_time(decided_at, limit)))
    reports = _report_totals(actor)
    codes = set(open_counts) | set(overdue_counts) | set(decided) | set(reports)
    if actor.region_code and len(actor.region_code) == 6:
        codes |= {t.code for t in list_children(actor.region_code)}
    names = names_for(codes)
    rows = []
    for code in sorted(codes):
        days = [d for d, _ in decided[code]]
        n_reports, ok_reports = reports.get(code, (0, 0))
        rows.append(
            {
                "township_code": code,
                "township": names.get(code, code),
                "open": open_counts.get(code, 0),
                "overdue": overdue_counts.get(code, 0),
                "decided": len(days),
                "on_time_percent": _percent(sum(1 for _, ok in decided[code] if ok), len(days)),
                "median_working_days": statistics.median(days) if days else None,
                "reports_due": n_reports,
                "reports_on_time_percent": _percent(ok_reports, n_reports),
            }
        )
    return rows


def summary(actor: Actor) -> dict:
    data = {
        "open_total": queues.count(actor, bucket="all"),
        "open_by_stage": open_by_stage(actor),
        "decisions": decisions(actor),
        "reports": reports_first_contact(actor),
        "desk": township_desk(actor),
    }
    if len(actor.region_code or "") != 9:  # county, city, province, administrators: the table by township
        data["townships"] = by_township(actor)
    return data
