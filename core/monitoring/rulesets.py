"""County rule sets: the province default until a county activates its own version; versioned, audited,
previewed against last month's data before being switched on."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from core import access, clock
from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.monitoring import rules as rules_mod
from core.monitoring.models import MonitoringRuleSet

RULE_ROLES = {"county_officer", "city_admin", "system_admin"}


def active(county: str, *, lock: bool = False) -> MonitoringRuleSet | None:
    stmt = select(MonitoringRuleSet).where(
        MonitoringRuleSet.county_code == county, MonitoringRuleSet.status == "active"
    )
    return db.session.scalar(stmt.with_for_update() if lock else stmt)


def active_rules(county: str) -> tuple[list[dict[str, Any]], int | None]:
    """The rules in force for a county and their version (None: the province default)."""
    row = active(county)
    return (list(row.rules), row.version) if row is not None else (rules_mod.default_rules(), None)


def require_rule_admin(actor: Actor, county: str) -> None:
    """Only a county's own officers (or the city / a system admin above it) manage its rules."""
    if actor.kind != "officer" or not RULE_ROLES & set(actor.roles):
        raise PermissionDenied("只有县级民政部门可以设置监测规则", code="rules_county_only")
    if not (isinstance(county, str) and len(county) == 6 and county.isdigit()) or not access.can_see(actor, county):
        raise NotFound("未找到该县（区）的监测规则", code="rules_not_found")


def versions(actor: Actor, county: str) -> list[MonitoringRuleSet]:
    require_rule_admin(actor, county)
    return list(
        db.session.scalars(
            select(MonitoringRuleSet)
            .where(MonitoringRuleSet.county_code == county)
            .order_by(MonitoringRuleSet.version.desc())
        )
    )


def get(actor: Actor, ruleset_id: int) -> MonitoringRuleSet:
    row = db.session.get(MonitoringRuleSet, ruleset_id)
    if row is None:
        raise NotFound("未找到该版本的监测规则", code="rules_not_found")
    require_rule_admin(actor, row.county_code)
    return row


def _changed(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    old = {r["code"]: r for r in before}
    new = {r["code"]: r for r in after}
    return sorted(c for c in old.keys() | new.keys() if old.get(c) != new.get(c))


def save_draft(actor: Actor, county: str, raw_rules: Any, *, note: str | None = None) -> MonitoringRuleSet:
    """Validate and store a new version (draft) of a county's rules."""
    require_rule_admin(actor, county)
    clean = rules_mod.validate(raw_rules)
    note = (note or "").strip()[:300] or None
    current, _ = active_rules(county)
    number = (
        db.session.scalar(select(func.max(MonitoringRuleSet.version)).where(MonitoringRuleSet.county_code == county))
        or 0
    ) + 1
    row = MonitoringRuleSet(
        county_code=county,
        version=number,
        status="draft",
        rules=clean,
        note=note,
        created_by_officer_id=actor.id if actor.kind == "officer" else None,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor, "monitoring.rules.save", row, region=county, version=number, changed=_changed(current, clean), note=note
    )
    return row


def last_month_end(today: date | None = None) -> date:
    today = today or clock.local_today()
    return today.replace(day=1) - timedelta(days=1)


def preview(actor: Actor, ruleset_id: int) -> MonitoringRuleSet:
    """Count the hits of a version against last month's data (no warning is raised), and keep the counts."""
    from core.monitoring import evaluation

    row = get(actor, ruleset_id)
    as_of = last_month_end()
    counts, persons = evaluation.preview_counts(row.county_code, list(row.rules), as_of)
    row.preview = {"as_of": as_of.isoformat(), "persons": persons, "hits": counts}
    row.previewed_at = clock.utcnow()
    audit.record(actor, "monitoring.rules.preview", row, region=row.county_code, as_of=str(as_of), hits=counts)
    return row


def activate(actor: Actor, ruleset_id: int) -> MonitoringRuleSet:
    """Switch a previewed draft on; the version in force before it is retired."""
    row = get(actor, ruleset_id)
    db.session.flush()
    db.session.refresh(row, with_for_update=True)
    if row.status != "draft":
        raise Conflict("只有草稿可以启用", code="rules_not_draft")
    if row.previewed_at is None:
        raise ValidationFailed(
            "启用前请先用上月数据试算", errors={"preview": ["启用前请先用上月数据试算，确认命中人数"]}
        )
    previous = active(row.county_code, lock=True)
    if previous is not None:
        previous.status = "retired"
    db.session.flush()
    row.status = "active"
    row.activated_at = clock.utcnow()
    row.activated_by_officer_id = actor.id if actor.kind == "officer" else None
    audit.record(
        actor,
        "monitoring.rules.activate",
        row,
        region=row.county_code,
        version=row.version,
        replaced=previous.version if previous is not None else None,
    )
    return row
