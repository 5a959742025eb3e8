"""The per-application economic check (核对报告).

It starts when the authorization gate opens — the last adult member authorizes (core.authorizations
``on_gate_open``) — as a task on the ``bulk`` queue, and runs again when an officer asks for a re-check.
The task re-checks the gate itself: a check never looks anything up without every adult's authorization.
Every look-up of the members' department data is audited with its purpose.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from core import clock
from core.actor import SYSTEM, Actor
from core.applications.intake import get_for_officer
from core.applications.models import Application
from core.applications.settings import effective
from core.audit import services as audit
from core.authorizations import services as authorizations
from core.bulk import sources
from core.checks import assessment
from core.checks.models import CONCLUSIONS, EconomicCheck
from core.database import db, enqueue_after_commit
from core.errors import Conflict, NotFound, ValidationFailed

RUN_TASK = "bulk.economic_check"
PURPOSE = "社会救助申请家庭经济状况核对"
MAX_ROWS_PER_CATEGORY = 200  # per member: more is summarized, never silently (the count is kept)
SUMMARY = {
    None: None,
    "queued": "家庭经济状况核对已开始，请耐心等待。",
    "running": "家庭经济状况核对已开始，请耐心等待。",
    "blocked": "请所有成年家庭成员完成授权后，再开始家庭经济状况核对。",
    "failed": "家庭经济状况核对暂未完成，工作人员将重新核对。",
    "green": "家庭经济状况核对已完成，工作人员将结合入户调查情况继续审核。",
    "yellow": "家庭经济状况核对已完成，部分信息需要在入户调查时向您了解核实，请配合说明。",
    "red": "家庭经济状况核对已完成，部分信息需要在入户调查时向您了解核实，请配合说明。",
}


def latest(application_id: int) -> EconomicCheck | None:
    return db.session.scalar(
        select(EconomicCheck)
        .where(EconomicCheck.application_id == application_id)
        .order_by(EconomicCheck.id.desc())
        .limit(1)
    )


def _queue(app: Application, trigger: str, officer_id: int | None) -> EconomicCheck:
    check = EconomicCheck(
        application_id=app.id,
        township_code=app.residence_township_code,
        county_code=(app.residence_township_code or "")[:6] or None,
        status="queued",
        trigger=trigger,
        requested_by_officer_id=officer_id,
    )
    db.session.add(check)
    db.session.flush()
    enqueue_after_commit(RUN_TASK, check.id, queue="bulk")
    return check


def on_gate_open(actor: Actor, app: Application) -> EconomicCheck | None:
    """The last adult authorized: queue the check (once; a re-check is the officer's)."""
    current = latest(app.id)
    if current is not None and current.status in ("queued", "running", "done"):
        return current
    if authorizations.missing(app):
        return None
    return _queue(app, "authorized", None)


def request_recheck(actor: Actor, application_id: int) -> EconomicCheck:
    app, case = get_for_officer(actor, application_id)
    if case.is_info_copy:
        raise NotFound("未找到该申请", code="application_not_found")
    missing = authorizations.missing(app)
    if missing:
        raise ValidationFailed(errors={"authorizations": missing})
    current = latest(app.id)
    if current is not None and current.status in ("queued", "running"):
        raise Conflict("核对正在进行中，请稍后再试", code="check_running")
    check = _queue(app, "recheck", actor.id)
    audit.record(actor, "checks.recheck", check, region=app.residence_township_code, application_id=app.id)
    return check


def _members(app: Application) -> list[tuple[int, str, str]]:
    out = []
    for i, m in enumerate(app.members):
        number = (m.id_number or "").strip().upper()
        if len(number) == 18:
            out.append((i, number, m.name or ""))
    return out


def lookup(
    input_sources: Mapping[str, Sequence[str]], numbers: Sequence[str], *, engine: str = "duckdb"
) -> list[dict[str, Any]]:
    """Every row of every category about these ID numbers (exact numbers only), as JSON-ready dicts."""
    if not numbers:
        return []
    from core.bulk import engine as bulk_engine  # DuckDB and Ibis load in the worker, not in every web process

    eng = bulk_engine.connect(engine, threads=2, memory_limit="512MB")
    out: list[dict[str, Any]] = []
    try:
        if engine == "duckdb":  # sorted copies: a few row groups read instead of every ID number
            from core.checks import lookup_copies

            raw = eng.con.con
            input_sources = {
                k: [lookup_copies.copy_for(p, raw) for p in paths] for k, paths in input_sources.items() if paths
            }
        for category, table in bulk_engine.tables(eng, input_sources).items():
            expr = table.filter(table.id_number.isin(list(numbers))).order_by(["id_number", "load_id", "row_no"])
            for row in bulk_engine.to_arrow(eng, expr).to_pylist():
                item = {"category": category}
                for key, value in row.items():
                    item[key] = (
                        value.isoformat()
                        if isinstance(value, date)
                        else (str(value) if hasattr(value, "as_tuple") else value)
                    )
                out.append(item)
    finally:
        eng.close()
    return out


def run(
    check_id: int,
    *,
    input_sources: Mapping[str, Sequence[str]] | None = None,
    freshness: list[dict[str, Any]] | None = None,
    today: date | None = None,
) -> EconomicCheck | None:
    """The task body: gate, look-up, assessment, report. A finished check is not run again."""
    check = db.session.get(EconomicCheck, check_id)
    if check is None or check.status not in ("queued", "running"):
        return check
    app = db.session.get(Application, check.application_id)
    missing = authorizations.missing(app)
    if missing:  # an authorization was withdrawn (or never complete): nothing is looked up
        check.status, check.finished_at = "blocked", clock.utcnow()
        check.message = "；".join(missing)[:2000]
        return check
    check.status = "running"
    today = today or clock.local_today()
    started = time.perf_counter()
    members = _members(app)
    src = dict(input_sources) if input_sources is not None else sources.current(assessment.CATEGORIES)
    src = {k: v for k, v in src.items() if k in assessment.CATEGORIES}
    fresh = freshness if freshness is not None else sources.freshness(assessment.CATEGORIES)
    rows = lookup(src, [n for _, n, _ in members])
    audit.record(
        SYSTEM,
        "checks.lookup",
        check,
        region=app.residence_township_code,
        purpose=PURPOSE,
        application_id=app.id,
        members=len(members),
        categories=sorted(src),
        rows=len(rows),
    )
    index = {n: i for i, n, _ in members}
    for r in rows:
        r["member"] = index.get(r.get("id_number"), -1)
    findings: dict[str, dict[str, Any]] = {}
    for i, _number, name in members:
        findings[str(i)] = {"name": name, "categories": {}}
    for r in rows:
        bucket = findings[str(r["member"])]["categories"].setdefault(r["category"], {"count": 0, "rows": []})
        bucket["count"] += 1
        if len(bucket["rows"]) < MAX_ROWS_PER_CATEGORY:
            bucket["rows"].append({k: v for k, v in r.items() if k not in ("id_number", "member", "category")})
    county = (app.residence_township_code or "000000")[:6]
    region, version, model = assessment.model_for(county)
    standard = effective(county, app.program).monthly_standard
    declared = sum(float(i.monthly_amount or 0) for i in app.incomes)
    grade, reasons, figures = assessment.assess(
        rows=rows,
        members=len(app.members),
        declared_monthly_income=declared,
        declared_assets=[{"kind": a.kind} for a in app.assets],
        standard=float(standard) if standard is not None else None,
        model=model,
        freshness=fresh,
        today=today,
    )
    figures["seconds"] = round(time.perf_counter() - started, 3)
    check.grade, check.reasons, check.figures, check.findings, check.freshness = (
        grade,
        reasons,
        figures,
        findings,
        fresh,
    )
    check.model_region, check.model_version, check.model = region, version, model
    check.status, check.finished_at = "done", clock.utcnow()
    return check


# --- reading and concluding --------------------------------------------------------------------------


def report(actor: Actor, application_id: int) -> tuple[Application, EconomicCheck | None]:
    """The latest check of an application in the officer's region (else 404), audited with its purpose."""
    app, _ = get_for_officer(actor, application_id)
    check = latest(app.id)
    if check is not None:
        audit.record(
            actor, "checks.view", check, region=app.residence_township_code, purpose=PURPOSE, application_id=app.id
        )
    return app, check


def finished_report(actor: Actor, application_id: int) -> tuple[Application, EconomicCheck]:
    """The latest check if it is finished (for the PDF), else 404."""
    app, check = report(actor, application_id)
    if check is None or check.status != "done":
        raise NotFound("核对报告尚未生成", code="check_not_found")
    return app, check


def conclude(actor: Actor, application_id: int, *, conclusion: str, note: str) -> EconomicCheck:
    app, case = get_for_officer(actor, application_id)
    if case.is_info_copy:
        raise NotFound("未找到该申请", code="application_not_found")
    check = latest(app.id)
    if check is None or check.status != "done":
        raise Conflict("核对报告尚未生成", code="check_not_done")
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if conclusion not in CONCLUSIONS:
        errors["conclusion"] = ["请选择核对结论"]
    if len(note) > 500:
        errors["note"] = ["说明不能超过500字"]
    if conclusion != "consistent" and len(note) < 2:
        errors["note"] = ["请填写说明（2-500字）"]
    if errors:
        raise ValidationFailed(errors=errors)
    check.conclusion, check.conclusion_note = conclusion, note or None
    check.concluded_by_officer_id, check.concluded_at = actor.id, clock.utcnow()
    audit.record(actor, "checks.conclude", check, region=app.residence_township_code, conclusion=conclusion)
    return check


def applicant_summary(app: Application) -> dict[str, Any] | None:
    """What the applicant sees: the status and a neutral sentence — no department data, no grade."""
    if not app.evidence_length:  # no authorization recorded yet: the gate cannot have opened, no query
        return None
    check = latest(app.id)
    if check is None:
        return None
    key = check.grade if check.status == "done" else check.status
    return {
        "status": check.status,
        "summary": SUMMARY.get(key),
        "finished_at": check.finished_at,
    }


def prepare_lookup_copies() -> int:
    """Make the sorted look-up copies of every current file (after a load, on the bulk queue)."""
    import duckdb

    from core.checks import lookup_copies

    con = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
    try:
        paths = [p for paths in sources.current(assessment.CATEGORIES).values() for p in paths]
        for path in paths:
            lookup_copies.copy_for(path, con)
        return len(paths)
    finally:
        con.close()


def sweep_lookup_copies() -> int:
    from core.checks import lookup_copies

    return lookup_copies.sweep()
