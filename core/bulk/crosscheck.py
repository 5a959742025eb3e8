"""The anti-fraud job: roster × department data (core.bulk.antifraud) → warnings (core.warnings).

``start`` records a job and queues it on the ``bulk`` queue after commit; ``run`` does the work,
committing its progress at each stage so the portal and the CLI can follow it. The same department
records raise nothing new on a second run (``raise_warnings`` keeps one open warning per person × reason
and suppresses records already handled, by fingerprint).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update

from core import access, clock
from core.actor import SYSTEM, Actor
from core.audit import services as audit
from core.bulk import antifraud, sources
from core.bulk import engine as bulk_engine
from core.bulk import roster as rosters
from core.bulk.models import BulkJob
from core.database import commit, db, enqueue_after_commit
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.warnings import services as warnings

RUN_TASK = "bulk.antifraud"
CATEGORIES = (
    "deaths",
    "cremations",
    "imprisonment",
    "public_servants",
    "vehicles",
    "property",
    "business_registration",
    "pensions",
)
START_ROLES = frozenset({"county_officer", "city_admin", "system_admin"})
EVIDENCE_ROWS = 20
CATEGORY_LABELS = {
    "deaths": "死亡人员",
    "cremations": "火化记录",
    "imprisonment": "服刑羁押人员",
    "public_servants": "公职人员",
    "vehicles": "机动车登记",
    "property": "不动产登记",
    "business_registration": "工商登记",
    "pensions": "养老金发放",
}


def start(actor: Actor, *, trigger: str = "officer", engine: str = "duckdb", enqueue: bool = True) -> BulkJob:
    """Queue a run (one at a time: a queued or running job is returned instead of a second one).
    ``enqueue=False``: the caller runs it itself (the CLI, the tests)."""
    if actor.kind == "officer" and not START_ROLES & set(actor.roles):
        raise PermissionDenied("只有县级以上民政部门可以发起比对")
    if engine not in bulk_engine.ENGINES:
        raise ValidationFailed(errors={"engine": ["比对引擎须为 duckdb 或 spark"]})
    running = db.session.scalar(
        select(BulkJob).where(BulkJob.kind == "antifraud", BulkJob.status.in_(("queued", "running")))
    )
    if running is not None:
        return running
    job = BulkJob(
        kind="antifraud",
        engine=engine,
        trigger=trigger,
        status="queued",
        stage="queued",
        progress=0,
        requested_by_officer_id=actor.id if actor.kind == "officer" else None,
        region_code=actor.region_code,
    )
    db.session.add(job)
    db.session.flush()
    audit.record(actor, "bulk.antifraud.start", job, region=actor.region_code, trigger=trigger, engine=engine)
    if enqueue:
        enqueue_after_commit(RUN_TASK, job.id, queue="bulk")
    return job


def due_after_load() -> bool:
    """A completed load newer than the last finished run (the job runs again after every load)."""
    last_load = sources.last_load_finished_at()
    if last_load is None:
        return False
    last_run = db.session.scalar(
        select(BulkJob.created_at).where(BulkJob.kind == "antifraud").order_by(BulkJob.id.desc()).limit(1)
    )
    return last_run is None or last_run < last_load


def get_job(actor: Actor, job_id: int) -> BulkJob:
    job = db.session.get(BulkJob, job_id)
    if job is None or job.kind != "antifraud":
        raise NotFound("未找到该比对任务")
    if actor.kind == "officer" and not START_ROLES & set(actor.roles):
        raise NotFound("未找到该比对任务")
    return job


def recent_jobs(actor: Actor, limit: int = 10) -> list[BulkJob]:
    if actor.kind == "officer" and not START_ROLES & set(actor.roles):
        raise PermissionDenied()
    return list(
        db.session.scalars(select(BulkJob).where(BulkJob.kind == "antifraud").order_by(BulkJob.id.desc()).limit(limit))
    )


def _progress(job: BulkJob, stage: str, percent: int) -> None:
    job.stage, job.progress = stage, percent
    commit()  # visible to the portal and the CLI while the job goes on


def run(
    job_id: int,
    *,
    input_sources: Mapping[str, Sequence[str]] | None = None,
    today: date | None = None,
    on_progress: Callable[[str, int], None] | None = None,
) -> BulkJob:
    """Do a queued job (idempotent: a finished job is not run again)."""
    claimed = db.session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.status == "queued")
        .values(status="running", started_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    job = db.session.get(BulkJob, job_id)
    if not claimed:  # done, failed, or another worker has it: a redelivered task does nothing
        return job
    db.session.refresh(job)

    def progress(stage: str, percent: int) -> None:
        _progress(job, stage, percent)
        if on_progress:
            on_progress(stage, percent)

    try:
        progress("roster", 5)
        result = cross_check(
            SYSTEM,
            input_sources=input_sources,
            engine=job.engine,
            today=today,
            progress=progress,
        )
    except Exception as exc:  # recorded on the job for the portal; the task's retry policy sees it too
        db.session.rollback()
        job = db.session.get(BulkJob, job_id)
        job.status, job.finished_at = "failed", clock.utcnow()
        job.message = f"{type(exc).__name__}: {exc}"[:2000]
        commit()
        raise
    job.result = result
    job.status, job.stage, job.progress, job.finished_at = "done", "done", 100, clock.utcnow()
    commit()
    if on_progress:
        on_progress("done", 100)
    return job


def cross_check(
    actor: Actor,
    *,
    input_sources: Mapping[str, Sequence[str]] | None = None,
    roster: pa.Table | None = None,
    engine: str = "duckdb",
    today: date | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Join, then raise the warnings (in the caller's transaction). Returns the counts and timings."""
    today = today or clock.local_today()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = dict(input_sources) if input_sources is not None else sources.current(CATEGORIES)
    roster = roster if roster is not None else rosters.build()
    timings["roster_s"] = round(time.perf_counter() - t0, 3)
    if progress:
        progress("joining", 20)
    t1 = time.perf_counter()
    rows = find_hits(src, roster, today=today, engine=engine, progress=progress)
    timings["join_s"] = round(time.perf_counter() - t1, 3)
    if progress:
        progress("warnings", 70)
    t2 = time.perf_counter()
    hits = to_hits(rows, roster)
    raised = warnings.raise_warnings(actor, hits)
    timings["warnings_s"] = round(time.perf_counter() - t2, 3)
    by_reason: dict[str, int] = {}
    for hit in hits:
        by_reason[hit.reason] = by_reason.get(hit.reason, 0) + 1
    return {
        "persons": roster.num_rows,
        "categories": sorted(src),
        "files": sum(len(v) for v in src.values()),
        "hit_rows": rows.num_rows,
        "hits": len(hits),
        "by_reason": by_reason,
        "created": raised.created,
        "updated": raised.updated,
        "suppressed": raised.suppressed,
        **timings,
    }


def find_hits(
    input_sources: Mapping[str, Sequence[str]],
    roster: pa.Table,
    *,
    today: date,
    engine: str = "duckdb",
    progress: Callable[[str, int], None] | None = None,
) -> pa.Table:
    """The hit rows (antifraud.HIT_COLUMNS) on the chosen engine."""
    eng = bulk_engine.connect(engine)
    try:
        tables = bulk_engine.tables(eng, {k: v for k, v in input_sources.items() if k in CATEGORIES})
        people = bulk_engine.from_arrow(eng, roster, name="roster")
        return antifraud.hits(eng, tables, people, today, progress=progress)
    finally:
        eng.close()


def _fingerprint(text: str) -> str:
    return text if len(text) <= 64 else text[:40] + ":" + hashlib.sha256(text.encode()).hexdigest()[:23]


def _summary(reason: str, name: str | None, rows: list[dict[str, Any]], values: dict[str, Any]) -> str:
    who = warnings.mask_name(name)
    first = rows[0]
    if reason == "deceased":
        return f"{CATEGORY_LABELS[first['category']]}显示{who}已于{values['event_date']}死亡，仍在享受救助"
    if reason == "pension_after_death":
        return f"{who}于{values['died_on']}死亡后仍发放养老金{values['months']}个月，合计{values['amount']:.2f}元"
    if reason == "imprisoned":
        return f"{who}处于服刑或羁押状态（{first['effective_date']}起）"
    if reason == "public_servant":
        return f"{who}为在职公职人员（{first['ref']}）"
    if reason == "new_vehicle":
        return f"{who}享受救助后新登记机动车{len(rows)}辆（{first['ref']}等）"
    if reason == "new_property":
        return f"{who}享受救助后新登记不动产{len(rows)}处"
    if reason == "business_owner":
        return f"{who}登记经营企业（个体户）{len(rows)}户"
    return f"{who}：{antifraud.RULES_BY_REASON[reason].label}"


def to_hits(rows: pa.Table, roster: pa.Table) -> list[warnings.Hit]:
    """One Hit per person × reason, with the department rows as evidence."""
    if rows.num_rows == 0:
        return []
    import pyarrow.compute as pc

    wanted = roster.filter(
        pc.is_in(roster.column("person_id"), value_set=pa.array(set(rows.column("person_id").to_pylist()), pa.int64()))
    )
    people = {
        r["person_id"]: r
        for r in wanted.select(
            ["person_id", "id_number", "name", "enrollment_id", "household_id", "township_code", "program"]
        ).to_pylist()
    }
    grouped: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in rows.to_pylist():
        grouped.setdefault((row["person_id"], row["reason"]), []).append(row)
    out: list[warnings.Hit] = []
    for (person_id, reason), items in grouped.items():
        person = people.get(person_id)
        if person is None:
            continue
        rule = antifraud.RULES_BY_REASON[reason]
        items.sort(key=lambda r: (r["effective_date"], r["category"], r["load_id"], r["row_no"]))
        values: dict[str, Any] = {"rows": len(items)}
        if reason == "deceased":
            event_date = items[0]["effective_date"]
            fingerprint = f"deceased:{event_date.isoformat()}"
            values["event_date"] = event_date.isoformat()
        elif reason == "pension_after_death":
            died_on = min(date.fromisoformat(r["info"]) for r in items)
            event_date = died_on
            fingerprint = f"pension_after_death:{died_on.isoformat()}"
            values.update(
                died_on=died_on.isoformat(),
                months=len(items),
                amount=round(sum(r["amount"] or 0 for r in items), 2),
            )
        else:
            newest = items[-1]
            event_date = newest["effective_date"]
            fingerprint = _fingerprint(f"{newest['category']}:{newest['ref']}")
        evidence = [
            {
                "kind": "record",
                "category": r["category"],
                "category_label": CATEGORY_LABELS.get(r["category"], r["category"]),
                "load_id": r["load_id"],
                "row_no": r["row_no"],
                "effective_date": r["effective_date"].isoformat() if r["effective_date"] else None,
                "ref": r["ref"],
                "info": r["info"],
                "amount": r["amount"],
            }
            for r in items[-EVIDENCE_ROWS:]
        ]
        out.append(
            warnings.Hit(
                source="anti_fraud",
                reason=reason,
                reason_label=rule.label,
                level=rule.level,
                id_number=person["id_number"],
                name=person["name"],
                person_id=person_id,
                household_id=person["household_id"],
                enrollment_id=person["enrollment_id"],
                township_code=person["township_code"],
                event_date=event_date,
                summary=_summary(reason, person["name"], items, values),
                fingerprint=fingerprint,
                evidence=evidence,
                values=values,
            )
        )
    out.sort(key=lambda h: (h.person_id or 0, h.reason))
    return out


# --- the county dashboard ---------------------------------------------------------------------------------


def _months_back(today: date, n: int) -> list[str]:
    months = []
    y, m = today.year, today.month
    for _ in range(n):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return months[::-1]


def dashboard(actor: Actor, *, months: int = 12) -> dict[str, Any]:
    """Warnings in the actor's region: hits by reason (all, open, confirmed, dismissed) and, per month,
    warnings raised, confirmed, and the monthly amount stopped (enrollments suspended or ended on them)
    with the arrears to recover."""
    from core.registry.models import Enrollment
    from core.warnings.models import RiskWarning

    if actor.kind != "officer" or not START_ROLES & set(actor.roles):
        raise PermissionDenied("比对统计仅对县级以上民政部门开放")
    since = clock.utcnow() - timedelta(days=31 * months)
    rows = db.session.execute(
        select(
            RiskWarning.reason,
            RiskWarning.reason_label,
            RiskWarning.status,
            RiskWarning.disposition,
            RiskWarning.first_seen_at,
            RiskWarning.disposed_at,
            RiskWarning.values,
            RiskWarning.arrears_amount,
            Enrollment.monthly_amount,
        )
        .outerjoin(Enrollment, Enrollment.id == RiskWarning.enrollment_id)
        .where(access.under(actor, RiskWarning.township_code), RiskWarning.first_seen_at >= since)
    ).all()
    reasons: dict[str, dict[str, Any]] = {}
    month_keys = _months_back(clock.local_today(), months)
    per_month = {
        m: {"month": m, "raised": 0, "confirmed": 0, "stopped_monthly": 0.0, "arrears": 0.0} for m in month_keys
    }
    for reason, label, status, disposition, first_seen, disposed_at, values, arrears_amount, monthly in rows:
        r = reasons.setdefault(
            reason,
            {
                "reason": reason,
                "label": label,
                "total": 0,
                "open": 0,
                "confirmed": 0,
                "dismissed": 0,
                "stopped_monthly": 0.0,
            },
        )
        r["total"] += 1
        if status == "open":
            r["open"] += 1
        if disposition == "confirmed":
            r["confirmed"] += 1
        if disposition == "dismissed":
            r["dismissed"] += 1
        raised_month = clock.to_local(first_seen).strftime("%Y-%m")
        if raised_month in per_month:
            per_month[raised_month]["raised"] += 1
        if disposition == "confirmed" and disposed_at is not None:
            m = clock.to_local(disposed_at).strftime("%Y-%m")
            if m in per_month:
                per_month[m]["confirmed"] += 1
                action = (values or {}).get("action")
                if action in ("suspend", "exit") and monthly is not None:
                    per_month[m]["stopped_monthly"] += float(monthly)
                    r["stopped_monthly"] += float(monthly)
                if arrears_amount is not None:
                    per_month[m]["arrears"] += float(arrears_amount)
    audit.record(actor, "bulk.antifraud.dashboard", ("warnings", None), region=actor.region_code)
    return {
        "reasons": sorted(reasons.values(), key=lambda r: -r["total"]),
        "months": list(per_month.values()),
        "labels": {r.reason: r.label for r in antifraud.RULES},
    }
