"""Evaluation: the roster against the department data, by each county's rules, into warnings.

- ``run_load(load_id)``: after a department load, only the persons it touched (and their households),
  only the rules that read its category; once per load (``MonitoringRun.key`` load:<id>).
- ``run_full()``: nightly, every current member, every rule.
- ``preview_counts``: a rule set's hits per rule on a day, nothing stored (core.monitoring.rulesets).

Hits become ``core.warnings`` Hits: one per person × scenario (the reason), with the rules that hit, their
computed values and evidence rows; ``raise_warnings`` deduplicates (a second run over the same load
updates nothing but the time seen; a closed warning is not raised again from the same records).
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from core import clock, pii, workdays
from core.actor import SYSTEM, Actor
from core.casework.models import Case
from core.database import db
from core.monitoring import engine, roster, rulesets
from core.monitoring.models import MonitoringRun
from core.monitoring.rules import ROSTER, SCENARIOS
from core.warnings import services as warnings
from core.warnings.services import DUE_WORKING_DAYS, LEVEL_RANK, Hit

Progress = Callable[[str, int], None]


def data_paths(categories: Sequence[str] | None = None) -> dict[str, list[str]]:
    from core.exchange import store
    from core.exchange.defaults import DEFAULTS_BY_CODE

    codes = categories or list(DEFAULTS_BY_CODE)
    return {code: store.current_paths(code) for code in codes}


def _connect() -> Any:
    from core.exchange import store

    settings = store.settings()
    return engine.connect(
        threads=settings.threads, memory_limit="1536MB", temp_directory=str(store.work_dir("monitoring-spill"))
    )


def _categories(rules: Sequence[dict[str, Any]]) -> set[str]:
    out: set[str] = {"deaths"}
    for r in rules:
        out.update(engine.evidence_categories(r))
        if r.get("category") and r["category"] != ROSTER:
            out.add(r["category"])
    return out


def _relevant(rule: dict[str, Any], categories: set[str]) -> bool:
    """Whether a rule reads any of ``categories`` (what an incremental run re-evaluates)."""
    return bool((set(engine.evidence_categories(rule)) | {rule.get("category")}) & categories)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def describe(rule: dict[str, Any], hit: engine.RuleHit) -> str:
    """The rule's finding in a sentence (Chinese), with the computed values."""
    label, kind = rule["label"], rule["kind"]
    if kind == "aggregate":
        if rule.get("agg") == "count":
            return f"{label}：{hit.value:.0f} 笔（阈值 {rule['threshold']:.0f} 笔）"
        return f"{label}：{_money(hit.value)} 元（阈值 {rule['threshold']:,.0f} 元）"
    if kind == "share_of_income":
        ratio = "无收入记录" if hit.value is None else f"占家庭收入 {hit.value:.1f}%"
        return f"{label}：自付 {_money(hit.value_a)} 元，{ratio}（阈值 {rule['threshold']:.0f}%）"
    if kind == "change":
        word = "同比" if rule.get("compare") == "year" else "环比"
        return f"{label}：{word}由 {_money(hit.value_a)} 元降至 {_money(hit.value_b)} 元，下降 {hit.value:.1f}%"
    if kind == "earner_death":
        return f"{label}（{hit.value:.0f} 人）"
    if kind == "carers_absent":
        return f"{label}（{hit.value:.0f} 名成年家庭成员死亡或服刑）"
    if kind == "living_alone":
        return f"{label}（{hit.value:.0f} 岁）"
    return f"{label}（{hit.value:.0f} 条记录）"


def to_warning_hits(rule_hits: Sequence[engine.RuleHit], rules: Mapping[str, dict[str, Any]], as_of: date) -> list[Hit]:
    """One Hit per person × scenario, the highest level of its rules."""
    grouped: dict[tuple[str, str], list[engine.RuleHit]] = defaultdict(list)
    for h in rule_hits:
        grouped[(h.id_number, rules[h.rule]["scenario"])].append(h)
    out: list[Hit] = []
    for (id_number, scenario), hits in grouped.items():
        hits.sort(key=lambda h: (-LEVEL_RANK[rules[h.rule]["level"]], rules[h.rule]["due_days"], h.rule))
        main = rules[hits[0].rule]
        info = hits[0].roster
        evidence: list[dict[str, Any]] = []
        for h in hits:
            evidence.extend({"rule": h.rule, **e} for e in h.evidence)
        values: dict[str, Any] = {
            "rule": main["code"],
            "rules": [h.rule for h in hits],
            "as_of": as_of.isoformat(),
            "due_days": min(rules[h.rule]["due_days"] for h in hits),
            "findings": {
                h.rule: {
                    "label": rules[h.rule]["label"],
                    "value": h.value,
                    "value_a": h.value_a,
                    "value_b": h.value_b,
                    "threshold": rules[h.rule].get("threshold"),
                }
                for h in hits
            },
            "household_key": hits[0].household_key,
        }
        fingerprint = hashlib.sha256("|".join(sorted(h.fingerprint() for h in hits)).encode()).hexdigest()
        out.append(
            Hit(
                source="monitoring",
                reason=scenario,
                reason_label=SCENARIOS[scenario],
                level=main["level"],
                id_number=id_number,
                township_code=info.get("township_code") or "",
                summary="；".join(describe(rules[h.rule], h) for h in hits),
                fingerprint=fingerprint,
                name=info.get("name"),
                person_id=info.get("person_id"),
                household_id=info.get("household_id"),
                enrollment_id=info.get("enrollment_id"),
                evidence=evidence[:60],
                values=values,
            )
        )
    return out


def _by_rule_set(members: pa.Table) -> list[tuple[list[dict[str, Any]], pa.Table]]:
    """The roster split by the rule set in force in each county (counties on the default share one)."""
    groups: dict[Any, tuple[list[dict[str, Any]], list[str]]] = {}
    for county in sorted(set(members.column("county_code").to_pylist())):
        rules, version = rulesets.active_rules(county)
        key = (county, version) if version is not None else "default"
        groups.setdefault(key, (rules, []))[1].append(county)
    out = []
    for rules, counties in groups.values():
        mask = pc.is_in(members.column("county_code"), value_set=pa.array(counties))
        out.append((rules, members.filter(mask)))
    return out


def evaluate_members(
    members: pa.Table,
    as_of: date,
    *,
    categories: set[str] | None = None,
    data: Mapping[str, Sequence[str]] | None = None,
    progress: Progress | None = None,
) -> tuple[list[Hit], int]:
    """Warnings hits for ``members`` by their counties' rules (optionally only rules reading
    ``categories``); returns (hits, rule hits)."""
    hits: list[Hit] = []
    rule_hit_count = 0
    con = _connect()
    try:
        for rules, group in _by_rule_set(members):
            chosen = [r for r in rules if r.get("enabled", True)]
            if categories is not None:
                chosen = [r for r in chosen if _relevant(r, categories)]
            if not chosen or group.num_rows == 0:
                continue
            paths = data if data is not None else data_paths(sorted(_categories(chosen) - {ROSTER}))
            rule_hits = engine.evaluate(con, group, paths, chosen, as_of, progress=progress)
            rule_hit_count += len(rule_hits)
            hits.extend(to_warning_hits(rule_hits, {r["code"]: r for r in chosen}, as_of))
    finally:
        con.disconnect()
    return hits, rule_hit_count


def _apply_due_days(result: warnings.RaiseResult, hits: Sequence[Hit]) -> None:
    """A rule's own first-visit deadline, where it differs from the level's default."""
    if not result.created_ids:
        return
    wanted = {}
    for hit in hits:
        wanted[(pii.blind_index(hit.id_number), hit.reason)] = hit.values.get("due_days")
    from core.warnings.models import RiskWarning

    today = clock.local_today()
    for start in range(0, len(result.created_ids), 500):
        rows = db.session.execute(
            select(RiskWarning, Case)
            .join(Case, Case.id == RiskWarning.case_id)
            .where(RiskWarning.id.in_(result.created_ids[start : start + 500]))
        ).all()
        for warning, case in rows:
            days = wanted.get((warning.id_number_bidx, warning.reason))
            if days and days != DUE_WORKING_DAYS[warning.level]:
                due = workdays.add_working_days(today, int(days))
                case.due_date = due
                case.next_due = due


def _run(key: str, kind: str, as_of: date, *, load_id: int | None = None, force: bool = False) -> MonitoringRun | None:
    existing = db.session.scalar(select(MonitoringRun).where(MonitoringRun.key == key))
    if existing is not None and not force:
        return None
    if existing is None:
        existing = MonitoringRun(key=key, kind=kind, load_id=load_id, as_of=as_of)
        db.session.add(existing)
    existing.status, existing.started_at, existing.as_of = "running", clock.utcnow(), as_of
    db.session.flush()
    return existing


def _finish(run: MonitoringRun, started: float, persons: int, rule_hits: int, result: warnings.RaiseResult) -> None:
    run.status = "completed"
    run.persons, run.hits = persons, rule_hits
    run.created, run.updated, run.suppressed = result.created, result.updated, result.suppressed
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.finished_at = clock.utcnow()
    db.session.flush()


def touched_ids(load_id: int) -> tuple[str | None, list[str]]:
    """The category of a completed load and the distinct ID numbers in it."""
    import duckdb

    from core.exchange import store
    from core.exchange.catalogue import DataCategory, DataLoad

    load = db.session.get(DataLoad, load_id)
    if load is None or load.status != "completed" or not load.storage_path:
        return None, []
    category = db.session.get(DataCategory, load.category_id)
    files = store.load_files(load.storage_path)
    if not files:
        return category.code if category else None, []
    con = duckdb.connect()
    try:
        ids = [r[0] for r in con.execute("SELECT DISTINCT id_number FROM read_parquet(?)", [files]).fetchall()]
    finally:
        con.close()
    return (category.code if category else None), ids


def run_load(
    load_id: int, *, actor: Actor = SYSTEM, force: bool = False, as_of: date | None = None
) -> MonitoringRun | None:
    """Evaluate the persons a department load touched (see the module docstring)."""
    as_of = as_of or clock.local_today()
    run = _run(f"load:{int(load_id)}", "load", as_of, load_id=load_id, force=force)
    if run is None:
        return None
    started = time.monotonic()
    category, ids = touched_ids(load_id)
    known = {pii.blind_index(i): i for i in ids}
    members = roster.snapshot(as_of, bidxs=list(known), known=known) if ids else None
    if category is None or members is None or members.num_rows == 0:
        _finish(run, started, 0, 0, warnings.RaiseResult(0, 0, 0))
        return run
    hits, rule_hits = evaluate_members(members, as_of, categories={category})
    result = warnings.raise_warnings(actor, hits)
    _apply_due_days(result, hits)
    _finish(run, started, members.num_rows, rule_hits, result)
    return run


def run_full(
    *, actor: Actor = SYSTEM, as_of: date | None = None, force: bool = False, progress: Progress | None = None
) -> MonitoringRun | None:
    """Every current member against every rule (nightly)."""
    as_of = as_of or clock.local_today()
    run = _run(f"full:{as_of.isoformat()}", "full", as_of, force=force)
    if run is None:
        return None
    started = time.monotonic()
    members = roster.snapshot(as_of)
    hits, rule_hits = evaluate_members(members, as_of, progress=progress) if members.num_rows else ([], 0)
    result = warnings.raise_warnings(actor, hits) if hits else warnings.RaiseResult(0, 0, 0)
    _apply_due_days(result, hits)
    _finish(run, started, members.num_rows, rule_hits, result)
    return run


def pending_loads(limit: int = 50) -> list[int]:
    """Completed department loads not yet evaluated (the sweep after loads)."""
    from core.exchange.catalogue import DataLoad

    done = select(MonitoringRun.load_id).where(MonitoringRun.kind == "load", MonitoringRun.load_id.is_not(None))
    return list(
        db.session.scalars(
            select(DataLoad.id)
            .where(DataLoad.status == "completed", DataLoad.id.not_in(done))
            .order_by(DataLoad.id)
            .limit(limit)
        )
    )


def preview_counts(county: str, rules: list[dict[str, Any]], as_of: date) -> tuple[dict[str, int], int]:
    """Hits per rule for a county's current members on ``as_of`` (nothing stored)."""
    members = roster.snapshot(as_of, counties=[county])
    counts = {r["code"]: 0 for r in rules}
    if members.num_rows == 0:
        return counts, 0
    con = _connect()
    try:
        enabled = [r for r in rules if r.get("enabled", True)]
        paths = data_paths(sorted(_categories(enabled) - {ROSTER}))
        for h in engine.evaluate(con, members, paths, enabled, as_of, evidence=False):
            counts[h.rule] = counts.get(h.rule, 0) + 1
    finally:
        con.disconnect()
    return counts, members.num_rows
