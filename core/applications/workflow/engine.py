"""The township workflow of an application after acceptance: parallel investigation, review, public
notice, county confirmation (or a township decision), statutory clocks, claims and conflicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from core import clock, workdays
from core.actor import Actor
from core.applications import notify, rules
from core.applications.models import Application
from core.applications.programs import program_label
from core.applications.settings import effective
from core.applications.workflow.definitions import STEP_LABELS, WORKFLOWS, StepDef, Workflow
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case, CaseStep, StepFile
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.files import signatures, storage
from core.regions.services import names_for

STALE_CLAIM_HOURS = 8
SUPERVISOR_ROLES = frozenset({"county_officer", "city_admin", "system_admin"})
APPEAL_TEXT = "如对决定不服，可自收到决定之日起60日内申请行政复议，或6个月内提起行政诉讼"

# Gates a step must pass before it may be completed (the authorizations issue registers one for data_check).
_gates: dict[str, dict[str, Any]] = {}


# Called after a decision approves an application (the registry enrolls it), in the same transaction.
_decision_listeners: dict[str, Any] = {}


def on_approved(name: str, listener: Any) -> None:
    """``listener(actor, application)`` runs when a decision approves an application (idempotent by name)."""
    _decision_listeners[name] = listener


def register_gate(step: str, gate: Any) -> None:
    """``gate(application) -> list[str]``: reasons the step cannot be completed yet (empty = go)."""
    _gates.setdefault(step, {})[f"{gate.__module__}.{gate.__qualname__}"] = gate  # idempotent


def workflow_for(app: Application) -> Workflow:
    return WORKFLOWS[app.program]


_event = notify.record_event


def steps_of(case: Case) -> list[CaseStep]:
    rows = db.session.scalars(select(CaseStep).where(CaseStep.case_id == case.id)).all()
    order = {code: i for i, code in enumerate(STEP_LABELS)}
    return sorted(rows, key=lambda s: order[s.step])


def _due(step: StepDef, today: date) -> date:
    if step.calendar_days is not None:
        return today + timedelta(days=step.calendar_days)
    return workdays.add_working_days(today, step.working_days or 0)


def start(actor: Actor, app: Application, case: Case) -> None:
    """Called on acceptance: create the steps, mark accept done, open the parallel investigation."""
    workflow = workflow_for(app)
    settings = effective(case.county_code, app.program)
    now = clock.utcnow()
    casework.start_limit(case, workflow.total_working_days)
    for step in workflow.steps:
        if step.optional and not getattr(settings, step.optional, False):
            continue
        row = CaseStep(case_id=case.id, step=step.code, status="waiting", data={})
        if step.code == "accept":
            row.status, row.ready_at, row.completed_at, row.completed_by_officer_id = "done", now, now, actor.id
        db.session.add(row)
    db.session.flush()
    _advance(actor, app, case)


def _advance(actor: Actor, app: Application, case: Case) -> list[CaseStep]:
    """Make every step whose predecessors are done ready; update the application's status."""
    workflow = workflow_for(app)
    rows = {s.step: s for s in steps_of(case)}
    today, now = clock.local_today(), clock.utcnow()
    newly: list[CaseStep] = []
    for code, row in rows.items():
        if row.status != "waiting":
            continue
        deps = [d for d in workflow.step(code).after if d in rows]  # skipped optional steps do not block
        if all(rows[d].status == "done" for d in deps):
            row.status, row.ready_at = "ready", now
            row.due_date = _due(workflow.step(code), today)
            newly.append(row)
    _sync_status(actor, app, case, rows, newly)
    return newly


def _sync_status(actor: Actor, app: Application, case: Case, rows: dict[str, CaseStep], newly: list[CaseStep]) -> None:
    open_steps = {code for code, r in rows.items() if r.status in ("ready", "in_progress")}
    if open_steps & {"data_check", "home_visit", "appraisal"}:
        status = "investigating"
    elif "review" in open_steps or "decision" in open_steps:
        status = "reviewing"
    elif "public_notice" in open_steps:
        status = "public_notice"
    elif "confirmation" in open_steps:
        status = "awaiting_confirmation"
    else:
        return
    township = names_for({case.township_code}).get(case.township_code, "乡镇（街道）")
    new_codes = [r.step for r in newly]
    if status != app.status or new_codes:
        rules.move(app, status)
        if {"data_check", "home_visit"} & set(new_codes):
            labels = "、".join(STEP_LABELS[c] for c in new_codes)
            _event(app, actor, "investigation_started", f"{township}已开始{labels}，工作人员可能会上门了解情况")
        elif "review" in new_codes or "decision" in new_codes:
            _event(app, actor, "review_started", f"调查核实已完成，{township}正在审核")
        elif "confirmation" in new_codes:
            _event(app, actor, "confirmation_started", "公示期满，已报县级民政部门确认")
    casework.start_work(case)
    _restage(case, rows)


STAGE_OF_STEP = {
    "data_check": "investigating",
    "home_visit": "investigating",
    "appraisal": "investigating",
    "review": "review",
    "public_notice": "public_notice",
    "confirmation": "confirmation",
    "decision": "decision",
}


def _restage(case: Case, rows: dict[str, CaseStep]) -> None:
    open_rows = [r for r in rows.values() if r.status in ("ready", "in_progress")]
    stages = [STAGE_OF_STEP[r.step] for r in open_rows if r.step in STAGE_OF_STEP]
    order = ["investigating", "review", "public_notice", "confirmation", "decision"]
    stage = min(stages, key=order.index) if stages else case.stage
    dues = [r.due_date for r in open_rows if r.due_date]
    casework.set_stage(case, stage, min(dues) if dues else None)


# --- access ----------------------------------------------------------------------------------------


def get_step(actor: Actor, step_id: int) -> tuple[CaseStep, Case, Application]:
    step = db.session.get(CaseStep, step_id)
    if step is None:
        raise NotFound("未找到该环节")
    case = casework.get_case_for_officer(actor, step.case_id)  # 404 outside the officer's region
    if case.is_info_copy:
        raise PermissionDenied("户籍地乡镇（街道）仅可查看")
    app = db.session.get(Application, case.subject_id)
    return step, case, app


def _may_act(actor: Actor, app: Application, case: Case, step: CaseStep) -> None:
    definition = workflow_for(app).step(step.step)
    roles = set(definition.roles)
    if definition.delegable and effective(case.county_code, app.program).confirmation_delegated:
        roles |= {"township_officer"}
    if not roles & set(actor.roles) and "system_admin" not in actor.roles:
        raise PermissionDenied(
            f"{definition.label}环节须由{'县级民政部门' if roles == {'county_officer'} else '乡镇（街道）'}办理"
        )


def _check_version(step: CaseStep, version: int | None) -> None:
    if version is not None and version != step.version:
        raise Conflict("该环节已被他人修改，请刷新页面后再操作", code="edit_conflict")


def claim(actor: Actor, step_id: int, *, version: int | None = None) -> CaseStep:
    """One officer at a time works a step; a stale claim may be taken over by a supervisor."""
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    _may_act(actor, app, case, step)
    if step.status not in ("ready", "in_progress"):
        raise Conflict("该环节当前不能领取", code="invalid_transition")
    if step.claimed_by_officer_id and step.claimed_by_officer_id != actor.id:
        stale = step.claimed_at and clock.utcnow() - step.claimed_at > timedelta(hours=STALE_CLAIM_HOURS)
        if not (stale and SUPERVISOR_ROLES & set(actor.roles)):
            raise Conflict("该环节已由其他经办人员领取", code="claimed_by_other")
        audit.record(
            actor, "case_step.take_over", step, region=case.township_code, previous_officer=step.claimed_by_officer_id
        )
    step.claimed_by_officer_id, step.claimed_at = actor.id, clock.utcnow()
    step.status = "in_progress"
    audit.record(actor, "case_step.claim", step, region=case.township_code, step=step.step)
    return step


def _ensure_claim(actor: Actor, step: CaseStep, case: Case, app: Application) -> None:
    if step.status not in ("ready", "in_progress"):
        raise Conflict(f"{STEP_LABELS[step.step]}环节当前不能办理", code="invalid_transition")
    if step.claimed_by_officer_id and step.claimed_by_officer_id != actor.id:
        raise Conflict("该环节已由其他经办人员领取", code="claimed_by_other")
    _may_act(actor, app, case, step)
    step.claimed_by_officer_id = actor.id
    step.claimed_at = step.claimed_at or clock.utcnow()
    step.status = "in_progress"


def _text(data: dict, key: str, label: str, errors: dict, *, required: bool = True, limit: int = 2000) -> str:
    value = (data.get(key) or "").strip()
    if required and not value:
        errors[key] = [f"请填写{label}"]
    elif len(value) > limit:
        errors[key] = [f"{label}不能超过{limit}个字"]
    return value


def _complete(actor: Actor, step: CaseStep, case: Case, app: Application, record: dict, text: str) -> CaseStep:
    step.status, step.completed_at, step.completed_by_officer_id = "done", clock.utcnow(), actor.id
    step.data = {**(step.data or {}), **record}
    audit.record(actor, "case_step.complete", step, region=case.township_code, step=step.step)
    _event(app, actor, f"{step.step}_done", text)
    _advance(actor, app, case)
    return step


MAX_HOME_VISIT_PHOTOS = 9
HOME_VISIT_SIGNATURES = ("signature_applicant", "signature_investigator_1", "signature_investigator_2")


@dataclass(frozen=True)
class HomeVisitFiles:
    """What the officer captured in the household: photos from the camera and signatures drawn on screen."""

    photos: list[tuple[bytes, str | None]] = field(default_factory=list)
    signatures: dict[str, bytes] = field(default_factory=dict)  # kind (HOME_VISIT_SIGNATURES) -> PNG
    photo_max_bytes: int = 10 * 1024 * 1024
    signature_max_bytes: int = 512 * 1024


def _check_home_visit_files(files: HomeVisitFiles, errors: dict) -> None:
    photos = [p for p in files.photos if p[0]]
    if not photos:
        errors["photos"] = ["请拍摄或上传至少一张入户照片"]
    elif len(photos) > MAX_HOME_VISIT_PHOTOS:
        errors["photos"] = [f"入户照片最多{MAX_HOME_VISIT_PHOTOS}张"]
    for kind in HOME_VISIT_SIGNATURES:
        try:
            signatures.check_png(files.signatures.get(kind) or b"", files.signature_max_bytes, field=kind)
        except ValidationFailed as err:
            errors.update(err.errors)


def _store_home_visit_files(actor: Actor, step: CaseStep, files: HomeVisitFiles) -> int:
    """Store photos (re-encoded, EXIF and GPS removed) and signatures; all or none."""
    stored: list[storage.StoredFile] = []
    try:
        items = [
            ("photo", data, name, (storage.JPEG, storage.PNG), files.photo_max_bytes)
            for data, name in files.photos
            if data
        ]
        items += [
            (kind, files.signatures[kind], f"{kind}.png", (storage.PNG,), files.signature_max_bytes)
            for kind in HOME_VISIT_SIGNATURES
        ]
        for kind, data, name, allowed, limit in items:
            field_name = "photos" if kind == "photo" else kind
            saved = storage.store_upload(
                data, name, allowed=allowed, max_bytes=limit, area="home_visits", field=field_name
            )
            stored.append(saved)
            db.session.add(
                StepFile(
                    step_id=step.id,
                    kind=kind,
                    content_type=saved.content_type,
                    size=saved.size,
                    sha256=saved.sha256,
                    storage_key=saved.storage_key,
                    uploaded_by_officer_id=actor.id,
                )
            )
    except Exception:
        for saved in stored:
            storage.delete(saved.storage_key)
        raise
    db.session.flush()
    return sum(1 for kind, *_ in items if kind == "photo")


def step_files(step_ids: list[int]) -> dict[int, list[StepFile]]:
    rows = (
        db.session.scalars(select(StepFile).where(StepFile.step_id.in_(step_ids)).order_by(StepFile.id))
        if step_ids
        else []
    )
    result: dict[int, list[StepFile]] = {}
    for row in rows:
        result.setdefault(row.step_id, []).append(row)
    return result


def get_step_file(actor: Actor, application_id: int, file_id: int) -> StepFile:
    """A photo or signature of a step of this application, within the officer's region (else 404)."""
    row = db.session.get(StepFile, file_id)
    step = db.session.get(CaseStep, row.step_id) if row else None
    case = casework.get_case_for_officer(actor, step.case_id) if step else None
    if row is None or case is None or case.subject_type != "application" or case.subject_id != application_id:
        raise NotFound("未找到该文件")
    return row


def complete_investigation(
    actor: Actor, step_id: int, data: dict, *, version: int | None = None, files: HomeVisitFiles | None = None
) -> CaseStep:
    """Record the data check, the home visit (with its photos and on-screen signatures) or the appraisal."""
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    _ensure_claim(actor, step, case, app)
    errors: dict[str, list[str]] = {}
    record: dict[str, Any] = {}
    if step.step == "data_check":
        for reason in (r for gate in _gates.get("data_check", {}).values() for r in gate(app)):
            errors.setdefault("authorizations", []).append(reason)
        record["findings"] = _text(data, "findings", "核对结果", errors)
    elif step.step == "home_visit":
        record["investigator_1"] = _text(data, "investigator_1", "第一调查人", errors, limit=50)
        record["investigator_2"] = _text(data, "investigator_2", "第二调查人", errors, limit=50)
        if record["investigator_1"] and record["investigator_1"] == record["investigator_2"]:
            errors["investigator_2"] = ["入户调查须由两名工作人员进行"]
        record["findings"] = _text(data, "findings", "调查记录", errors)
        files = files or HomeVisitFiles()
        _check_home_visit_files(files, errors)
        if not errors:
            record["photos"] = _store_home_visit_files(actor, step, files)
            record["signed"] = True
    elif step.step == "appraisal":
        record["findings"] = _text(data, "findings", "评议结果", errors)
    else:
        raise ValidationFailed(errors={"step": ["该环节不是调查环节"]})
    if errors:
        raise ValidationFailed(errors=errors)
    return _complete(actor, step, case, app, record, f"{STEP_LABELS[step.step]}已完成")


def complete_review(actor: Actor, step_id: int, data: dict, *, version: int | None = None) -> CaseStep:
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    if step.step != "review":
        raise ValidationFailed(errors={"step": ["该环节不是审核环节"]})
    _ensure_claim(actor, step, case, app)
    errors: dict[str, list[str]] = {}
    opinion = _text(data, "opinion", "审核意见", errors)
    recommendation = data.get("recommendation")
    if recommendation not in ("approve", "reject"):
        errors["recommendation"] = ["请选择审核建议"]
    amount = _amount(data.get("amount"), errors, required=recommendation == "approve")
    if errors:
        raise ValidationFailed(errors=errors)
    record = {"opinion": opinion, "recommendation": recommendation, "amount": str(amount) if amount else None}
    return _complete(actor, step, case, app, record, "乡镇（街道）审核已完成，将进行公示")


def _amount(value: Any, errors: dict, *, required: bool) -> Decimal | None:
    if value in (None, ""):
        if required:
            errors["amount"] = ["请填写保障金额（元/月）"]
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors["amount"] = ["金额格式不正确"]
        return None
    if not Decimal(0) < amount <= Decimal(100000):
        errors["amount"] = ["金额应大于0且不超过100000元"]
        return None
    return amount.quantize(Decimal("0.01"))


def start_notice(actor: Actor, step_id: int, *, version: int | None = None) -> CaseStep:
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    if step.step != "public_notice":
        raise ValidationFailed(errors={"step": ["该环节不是公示环节"]})
    _ensure_claim(actor, step, case, app)
    if (step.data or {}).get("starts"):
        raise Conflict("公示已开始", code="invalid_transition")
    today = clock.local_today()
    ends = today + timedelta(days=workflow_for(app).step("public_notice").calendar_days or 7)
    step.data = {**(step.data or {}), "starts": today.isoformat(), "ends": ends.isoformat(), "objections": []}
    step.due_date = ends
    _restage(case, {s.step: s for s in steps_of(case)})
    audit.record(actor, "case_step.notice_start", step, region=case.township_code)
    _event(app, actor, "notice_started", f"审核意见已在村（社区）公示，公示期至{ends:%Y年%m月%d日}")
    return step


def record_objection(actor: Actor, step_id: int, text: str, *, upheld: bool, version: int | None = None) -> CaseStep:
    """An objection during the notice; an upheld one sends the case back to review."""
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    if step.step != "public_notice" or not (step.data or {}).get("starts") or step.status == "done":
        raise Conflict("公示期间才能登记异议", code="invalid_transition")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(errors={"objection": ["请填写异议内容"]})
    objections = [
        *(step.data or {}).get("objections", []),
        {"at": clock.utcnow().isoformat(), "text": text[:1000], "upheld": upheld, "officer_id": actor.id},
    ]
    step.data = {**step.data, "objections": objections}
    audit.record(actor, "case_step.objection", step, region=case.township_code, upheld=upheld)
    if upheld:
        review = next(s for s in steps_of(case) if s.step == "review")
        review.status, review.completed_at, review.ready_at = "ready", None, clock.utcnow()
        review.due_date = _due(workflow_for(app).step("review"), clock.local_today())
        step.status, step.claimed_by_officer_id, step.claimed_at = "waiting", None, None
        step.data = {"objections": objections}  # the notice restarts after the new review
        step.due_date = None
        rules.move(app, "reviewing")
        _restage(case, {s.step: s for s in steps_of(case)})
        _event(app, actor, "objection_upheld", "公示期间收到异议，经核实需重新审核", reason=None)
    return step


def finish_notice(actor: Actor, step_id: int, *, version: int | None = None) -> CaseStep:
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    if step.step != "public_notice":
        raise ValidationFailed(errors={"step": ["该环节不是公示环节"]})
    _ensure_claim(actor, step, case, app)
    ends = (step.data or {}).get("ends")
    if not ends:
        raise Conflict("公示尚未开始", code="invalid_transition")
    if clock.local_today() < date.fromisoformat(ends):
        raise Conflict(f"公示期至{ends}，期满后才能结束公示", code="notice_running")
    return _complete(actor, step, case, app, {"finished": clock.local_today().isoformat()}, "公示期满，无异议")


def decide(actor: Actor, step_id: int, data: dict, *, version: int | None = None) -> Application:
    """County confirmation (or the township's decision where delegated, or for short programs)."""
    step, case, app = get_step(actor, step_id)
    _check_version(step, version)
    if step.step not in ("confirmation", "decision"):
        raise ValidationFailed(errors={"step": ["该环节不是审批环节"]})
    _ensure_claim(actor, step, case, app)
    errors: dict[str, list[str]] = {}
    approve = data.get("result")
    if approve not in ("approve", "reject"):
        errors["result"] = ["请选择审批结果"]
    amount = _amount(data.get("amount"), errors, required=approve == "approve")
    start_month = (data.get("start_month") or "").strip()
    if approve == "approve" and not re.match(r"^20\d{2}-(0[1-9]|1[0-2])$", start_month):
        errors["start_month"] = ["请填写起始月份，格式如 2026-12"]
    reason = _text(data, "reason", "不予批准的理由", errors, required=approve == "reject")
    if errors:
        raise ValidationFailed(errors=errors)
    now = clock.utcnow()
    step.status, step.completed_at, step.completed_by_officer_id = "done", now, actor.id
    step.data = {
        "result": approve,
        "amount": str(amount) if amount else None,
        "start_month": start_month or None,
        "reason": reason or None,
    }
    casework.record_decision(case, now)
    app.closed_at = now
    label = program_label(app.program)
    if approve == "approve":
        rules.move(app, "approved")
        app.approved_amount, app.start_month = amount, start_month
        year, month = start_month.split("-")
        text = f"您的{label}申请已批准：每月{amount}元，自{year}年{int(month)}月起发放"
    else:
        rules.move(app, "rejected")
        app.decision_reason = reason
        text = f"您的{label}申请未获批准。理由：{reason}。{APPEAL_TEXT}"
    if app.info_case_id:
        casework.close(db.session.get(Case, app.info_case_id))
    audit.record(actor, f"application.{app.status}", app, region=case.township_code, amount=str(amount or ""))
    _event(app, actor, app.status, text, reason=reason or None)
    if app.status == "approved":
        for listener in _decision_listeners.values():
            listener(actor, app)
    return app


def extend(actor: Actor, case_id: int, reason: str) -> Case:
    case = casework.get_case_for_officer(actor, case_id)
    app = db.session.get(Application, case.subject_id)
    reason = (reason or "").strip()
    if not reason and case.limit_date is not None and case.status != "closed" and case.extended_at is None:
        raise ValidationFailed(errors={"reason": ["请填写延长理由"]})
    days = workflow_for(app).extension_working_days
    casework.extend_limit(case, days, reason)
    audit.record(actor, "case.extend", case, region=case.township_code, days=days)
    _event(app, actor, "extended", f"因{reason}，办理期限延长{days}个工作日，至{case.limit_date:%Y年%m月%d日}")
    return case


def steps_of_application(app: Application) -> list[CaseStep]:
    """The handling case's steps (what an information-copy township may look at)."""
    case = db.session.get(Case, app.case_id) if app.case_id else None
    return steps_of(case) if case else []
