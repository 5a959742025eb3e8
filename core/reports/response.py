"""The township's response: contact and visit steps, closing, referral to an application, duplicates by hand."""

from __future__ import annotations

from sqlalchemy import select

from core import clock
from core.actor import Actor
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, ValidationFailed
from core.idnumber import validate_id_number
from core.reports.feedback import record_event, township_name
from core.reports.intake import person_named
from core.reports.models import Report
from core.reports.queries import get_for_officer, scope_clause
from core.reports.rules import STEP_TRANSITIONS
from core.reports.settings import contact_days
from core.reports.vocabulary import (
    CATEGORIES,
    OUTCOMES,
    STATUSES,
)

TRANSITIONS = STEP_TRANSITIONS


def record_step(actor: Actor, report_id: int, step: str, note: str | None = None) -> Report:
    report = get_for_officer(actor, report_id)
    if report.duplicate_of_id:
        raise Conflict("该报告已并入另一份报告，请在原报告中处理", code="is_duplicate")
    if step not in TRANSITIONS:
        raise ValidationFailed(errors={"step": ["步骤不正确"]})
    if report.status not in TRANSITIONS[step]:
        raise Conflict(f"报告{STATUSES[report.status]}，不能标记为{STATUSES[step]}", code="invalid_transition")
    now = clock.utcnow()
    report.status = step
    if step == "contacted":
        report.contacted_at = now
        text = None  # the reporter hears of the visit and the outcome
    else:
        report.visited_at = now
        report.contacted_at = report.contacted_at or now
        text = f"{township_name(report)}已上门走访"
    case = db.session.get(Case, report.case_id) if report.case_id else None
    if case is not None:
        casework.first_contact_made(case, officer_id=actor.id)
    record_event(report, step, officer_id=actor.id, note=note, reporter_text=text)
    audit.record(actor, f"report.{step}", report, region=report.township_code)
    return report


def close(
    actor: Actor, report_id: int, outcome: str, note: str | None = None, application_id: int | None = None
) -> Report:
    report = get_for_officer(actor, report_id)
    if report.status == "closed":
        raise Conflict("报告已办结", code="invalid_transition")
    if outcome not in OUTCOMES:
        raise ValidationFailed(errors={"outcome": ["请选择处理结果"]})
    if outcome == "not_eligible" and not (note or "").strip():
        raise ValidationFailed(errors={"note": ["请填写不符合条件的原因"]})
    report.status, report.outcome, report.outcome_note = "closed", outcome, (note or None)
    report.closed_at = clock.utcnow()
    report.application_id = application_id
    if report.case_id:
        casework.close(db.session.get(Case, report.case_id))
    record_event(report, "closed", officer_id=actor.id, note=note, reporter_text=f"已办结：{OUTCOMES[outcome]}")
    for duplicate in db.session.scalars(
        select(Report).where(Report.duplicate_of_id == report.id, Report.status != "closed")
    ):
        duplicate.status, duplicate.outcome, duplicate.closed_at = "closed", outcome, report.closed_at
        record_event(duplicate, "closed", officer_id=actor.id, reporter_text=f"已办结：{OUTCOMES[outcome]}")
    audit.record(actor, "report.close", report, region=report.township_code, outcome=outcome)
    return report


def refer_to_application(actor: Actor, report_id: int, program: str) -> Report:
    """Start a proxy application for the reported person (the officer acts for them), then close."""
    from core.applications import services as applications

    report = get_for_officer(actor, report_id)
    if report.status == "closed":
        raise Conflict("报告已办结", code="invalid_transition")
    if not report.person_name or not report.person_id_number:
        raise ValidationFailed(
            "转入救助申请需要当事人的姓名和身份证号码，请先核实后补充",
            errors={"person_id_number": ["请先补充当事人的身份证号码"]},
        )
    app = applications.start_for_person(
        actor,
        program=program,
        name=report.person_name,
        id_number=report.person_id_number,
        phone=report.person_phone,
        township_code=report.township_code,
        village_code=report.village_code,
        address=report.address,
        reason=f"主动发现（报告 {report.reference}）：{CATEGORIES[report.category]}",
    )
    return close(
        actor, report_id, "referred_to_application", note=f"已转入救助申请 {app.reference}", application_id=app.id
    )


def set_person(actor: Actor, report_id: int, name: str | None, id_number: str | None) -> Report:
    """Officers complete the person's identity after contact (needed before referral)."""
    report = get_for_officer(actor, report_id)
    errors = {}
    if id_number:
        normalized, messages = validate_id_number(id_number)
        if messages:
            errors["person_id_number"] = messages
    if errors:
        raise ValidationFailed(errors=errors)
    before = {"person_name": report.person_name, "person_id_number_set": bool(report.person_id_number)}
    if name:
        report.person_name = name.strip()
    if id_number:
        report.person_id_number = normalized
    person_named(report)  # the registry links (or creates) the person, with this report as the source
    audit.record(
        actor,
        "report.set_person",
        report,
        region=report.township_code,
        changes=audit.diff(
            before, {"person_name": report.person_name, "person_id_number_set": bool(report.person_id_number)}
        ),
    )
    return report


def mark_duplicate(actor: Actor, report_id: int, of_reference: str) -> Report:
    report = get_for_officer(actor, report_id)
    original = db.session.scalar(select(Report).where(Report.reference == of_reference.strip(), scope_clause(actor)))
    if original is None or original.id == report.id:
        raise ValidationFailed(errors={"of_reference": ["未找到该报告编号"]})
    if original.duplicate_of_id:
        original = db.session.get(Report, original.duplicate_of_id)
    report.duplicate_of_id = original.id
    if report.case_id:
        casework.close(db.session.get(Case, report.case_id))
    record_event(report, "marked_duplicate", officer_id=actor.id, note=f"与报告 {original.reference} 为同一人")
    audit.record(actor, "report.mark_duplicate", report, region=report.township_code, of=original.id)
    return report


def unmark_duplicate(actor: Actor, report_id: int) -> Report:
    report = get_for_officer(actor, report_id)
    if not report.duplicate_of_id:
        raise Conflict("该报告不是重复报告", code="not_duplicate")
    report.duplicate_of_id = None
    if report.case_id:
        casework.reopen(
            db.session.get(Case, report.case_id),
            stage="report",
            next_due=None if report.contacted_at else report.first_contact_due,
        )
    else:
        days = contact_days(report.township_code[:6], report.urgency)
        case = casework.open_case(
            actor,
            kind="report",
            township_code=report.township_code,
            title=CATEGORIES[report.category],
            due_in_working_days=days,
            subject_type="report",
            subject_id=report.id,
        )
        report.case_id, report.first_contact_due = case.id, case.due_date
    record_event(report, "unmarked_duplicate", officer_id=actor.id)
    audit.record(actor, "report.unmark_duplicate", report, region=report.township_code)
    return report
