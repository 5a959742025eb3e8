"""The monitoring dashboard (county and city): what the warnings were, whether they were visited in time,
how they were disposed of, and how many became help (warnings → applications → enrollments)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select

from core import access, clock
from core.actor import Actor
from core.applications.models import Application
from core.database import db
from core.errors import PermissionDenied
from core.monitoring import roster
from core.monitoring.models import DISPOSITIONS, MonitoringDisposition
from core.monitoring.rules import DEFAULT_RULES, SCENARIOS
from core.regions import services as regions
from core.registry.models import Enrollment
from core.warnings.models import WARNING_LEVELS, RiskWarning

DASHBOARD_ROLES = {"township_officer", "county_officer", "city_admin", "system_admin"}
CONFIRMED = ("apply", "adjust", "covered", "referral")  # 核实属实 (the situation was real)
RULE_LABELS = {r["code"]: r["label"] for r in DEFAULT_RULES}


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100.0 / whole, 1) if whole else None


def build(actor: Actor, *, months: int = 12) -> dict[str, Any]:
    if actor.kind != "officer" or not DASHBOARD_ROLES & set(actor.roles):
        raise PermissionDenied()
    since = clock.utcnow() - timedelta(days=31 * months)
    scope = (
        access.under(actor, RiskWarning.township_code),
        RiskWarning.source == "monitoring",
        RiskWarning.first_seen_at >= since,
    )

    def grouped(column: Any) -> list[tuple[Any, int]]:
        return db.session.execute(select(column, func.count()).where(*scope).group_by(column).order_by(column)).all()

    total = db.session.scalar(select(func.count()).select_from(RiskWarning).where(*scope)) or 0
    by_scenario = [
        {"code": code, "label": SCENARIOS.get(code, code), "count": n} for code, n in grouped(RiskWarning.reason)
    ]
    by_level = [{"code": c, "label": WARNING_LEVELS.get(c, c), "count": n} for c, n in grouped(RiskWarning.level)]
    township_rows = db.session.execute(
        select(
            RiskWarning.township_code,
            func.count(),
            func.sum(sql_case((RiskWarning.status == "open", 1), else_=0)),
        )
        .where(*scope)
        .group_by(RiskWarning.township_code)
    ).all()
    d_scope = (
        access.under(actor, MonitoringDisposition.township_code),
        MonitoringDisposition.created_at >= since,
    )
    disposed_by_township = dict(
        db.session.execute(
            select(
                MonitoringDisposition.township_code,
                func.sum(sql_case((MonitoringDisposition.on_time.is_(True), 1), else_=0)),
            )
            .where(*d_scope)
            .group_by(MonitoringDisposition.township_code)
        ).all()
    )
    names = regions.names_for({t for t, *_ in township_rows})
    townships = []
    for code, n, still_open in sorted(township_rows):
        on_time = int(disposed_by_township.get(code) or 0)
        townships.append(
            {
                "township_code": code,
                "township": names.get(code, code),
                "warnings": n,
                "open": int(still_open or 0),
                "visited_on_time": on_time,
                "on_time_percent": _pct(on_time, n),
            }
        )
    dispositions = dict(
        db.session.execute(
            select(MonitoringDisposition.kind, func.count()).where(*d_scope).group_by(MonitoringDisposition.kind)
        ).all()
    )
    on_time_total = db.session.scalar(
        select(func.count()).select_from(MonitoringDisposition).where(*d_scope, MonitoringDisposition.on_time.is_(True))
    )
    applications = db.session.scalar(
        select(func.count(func.distinct(MonitoringDisposition.application_id))).where(
            *d_scope, MonitoringDisposition.application_id.is_not(None)
        )
    )
    approved = db.session.scalar(
        select(func.count(func.distinct(Application.id)))
        .join(MonitoringDisposition, MonitoringDisposition.application_id == Application.id)
        .where(*d_scope, Application.status == "approved")
    )
    enrolled = db.session.scalar(
        select(func.count(func.distinct(Enrollment.id)))
        .join(MonitoringDisposition, MonitoringDisposition.application_id == Enrollment.application_id)
        .where(*d_scope)
    )
    rule_rows = db.session.execute(
        select(
            MonitoringDisposition.rule_code,
            func.count(),
            func.sum(sql_case((MonitoringDisposition.kind.in_(CONFIRMED), 1), else_=0)),
            func.sum(sql_case((MonitoringDisposition.kind == "not_eligible", 1), else_=0)),
        )
        .where(*d_scope)
        .group_by(MonitoringDisposition.rule_code)
    ).all()
    rules = sorted(
        (
            {
                "code": code or "",
                "label": RULE_LABELS.get(code or "", code or "—"),
                "disposed": n,
                "confirmed": int(c or 0),
                "not_eligible": int(ne or 0),
                "confirmed_percent": _pct(int(c or 0), n),
            }
            for code, n, c, ne in rule_rows
        ),
        key=lambda r: (-(r["confirmed_percent"] or 0), -r["disposed"], r["code"]),
    )
    disposed_total = sum(dispositions.values())
    return {
        "since": clock.to_local(since).date().isoformat(),
        "total": total,
        "open": sum(t["open"] for t in townships),
        "by_scenario": by_scenario,
        "by_level": by_level,
        "townships": townships,
        "dispositions": [
            {"code": k, "label": v, "count": int(dispositions.get(k, 0))} for k, v in DISPOSITIONS.items()
        ],
        "disposed": disposed_total,
        "on_time": int(on_time_total or 0),
        "on_time_percent": _pct(int(on_time_total or 0), total),
        "conversion": {
            "warnings": total,
            "applications": int(applications or 0),
            "approved": int(approved or 0),
            "enrollments": int(enrolled or 0),
            "application_percent": _pct(int(applications or 0), total),
            "enrollment_percent": _pct(int(enrolled or 0), total),
        },
        "rules": rules,
        "roster": [{"source": s, "label": label, "count": n} for s, label, n in roster.counts(actor)],
    }
