"""Submitting and after: full validation, routing to the townships, withdraw, replies to corrections, the timeline."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications import conflicts, rules, settings
from core.applications.attachments import attachments_of, get_attachment
from core.applications.citizen_access import is_creator, is_principal, mask_name
from core.applications.drafts import new_reference, record_event
from core.applications.models import (
    STATUSES,
    Application,
    ApplicationEvent,
)
from core.applications.programs import PROGRAMS, program_label
from core.applications.validation import validate_for_submit
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.households.models import HouseholdMember
from core.identity import services as identity
from core.regions.services import names_for

# Called when an application is submitted, in the same transaction (the registry links its members).
_submitted_listeners: dict[str, Callable[[Application], object]] = {}


def on_submitted(name: str, listener: Callable[[Application], object]) -> None:
    _submitted_listeners[name] = listener


def submit(actor: Actor, user: User, app: Application) -> Application:
    if not is_creator(user, app):
        raise PermissionDenied("只有填写人可以提交申请")
    if app.status != "draft":
        raise Conflict(f"申请{STATUSES[app.status]}，不能重复提交", code="already_submitted")
    if not identity.is_verified(user):
        raise PermissionDenied("请先完成实名核验后再提交申请", code="real_name_unverified")
    if not app.is_proxy and app.applicant_id_number != user.id_number:
        raise PermissionDenied(
            "申请人身份证号与您核验的实名身份不一致；为他人申请请选择代办", code="applicant_not_verified_person"
        )
    if app.is_proxy and app.applicant_id_number == user.id_number:
        raise ValidationFailed(errors={"on_behalf_of": {"id_number": ["为本人申请无需选择代办"]}})
    county = (app.residence_township_code or "")[:6]
    program_settings = settings.effective(county, app.program) if len(county) == 6 else None
    required = program_settings.required_materials if program_settings else []
    present = {a.material for a in attachments_of(app)}
    errors = validate_for_submit(app, required, present)
    if program_settings is not None and not program_settings.enabled:
        errors.setdefault("program", []).append("当地暂未开通该项目的网上申请")
    if errors:
        raise ValidationFailed(errors=errors)
    # The user's own duplicate is refused; a member named in another household's open application is
    # flagged for the townships, never a refusal (nothing about the other application reaches the user).
    conflicts.check_and_flag(actor, app)
    names = names_for({app.residence_township_code, app.hukou_township_code})
    days = program_settings.accept_working_days
    app.case_id = route(actor, app, "application", app.residence_township_code, days, user.id).id
    if app.hukou_township_code != app.residence_township_code:
        app.info_case_id = route(actor, app, "application_info", app.hukou_township_code, days, user.id).id
    rules.move(app, "submitted")
    app.submitted_at = clock.utcnow()
    record_event(
        app,
        actor,
        "submitted",
        f"您的{program_label(app.program)}申请已提交，等待{names.get(app.residence_township_code, '乡镇（街道）')}受理",
        township=app.residence_township_code,
        proxy=app.is_proxy,
    )
    audit.record(actor, "application.submit", app, region=app.residence_township_code, case_id=app.case_id)
    for listener in _submitted_listeners.values():
        listener(app)
    return app


def start_for_person(
    actor: Actor,
    *,
    program: str,
    name: str,
    id_number: str,
    phone: str | None,
    township_code: str,
    village_code: str | None,
    address: str | None,
    reason: str,
) -> Application:
    """An officer applies on behalf of a person found through a report (the window path).

    The application starts submitted with what is known; the township completes it with the family.
    """
    if program not in PROGRAMS:
        raise ValidationFailed(errors={"program": ["救助项目不存在"]})
    app = Application(
        reference=new_reference(),
        program=program,
        status="submitted",
        created_by_officer_id=actor.id,
        applicant_name=name,
        applicant_id_number=id_number,
        applicant_phone=phone,
        is_proxy=True,
        proxy_relation="cadre",
        proxy_reason="other",
        proxy_reason_note="乡镇（街道）根据主动发现报告代为申请",
        principal_confirmed=False,
        residence_township_code=township_code,
        residence_village_code=village_code,
        residence_address=address,
        hukou_township_code=township_code,
        hardship_reason=reason,
        submitted_at=clock.utcnow(),
    )
    app.members = [HouseholdMember(position=0, name=name, id_number=id_number, relation="self")]
    db.session.add(app)
    db.session.flush()
    conflicts.check_and_flag(actor, app)  # the person in another open application: flagged, not refused
    county = township_code[:6]
    days = settings.effective(county, program).accept_working_days
    case = route(actor, app, "application", township_code, days, None)
    app.case_id = case.id
    township = names_for({township_code}).get(township_code, "乡镇（街道）")
    record_event(app, actor, "submitted", f"{township}已为您代为提交{program_label(program)}申请，工作人员将与您联系")
    audit.record(actor, "application.start_for_person", app, region=township_code, case_id=case.id)
    return app


def route(actor: Actor, app: Application, kind: str, township_code: str, days: int, user_id: int | None) -> Case:
    """Open the case that puts the application in a township's queue (or its information copy)."""
    return casework.open_case(
        actor,
        kind=kind,
        township_code=township_code,
        title=f"{PROGRAMS[app.program]['short']}申请 · {mask_name(app.applicant_name)}",
        due_in_working_days=days,
        opened_by_user_id=user_id,
        subject_type="application",
        subject_id=app.id,
        is_proxy=app.is_proxy,
        program=app.program,
        household_size=len(app.members),
        is_info_copy=kind == "application_info",
    )


def withdraw(actor: Actor, user: User, app: Application, reason: str) -> Application:
    if not (is_creator(user, app) or is_principal(user, app)):
        raise NotFound("未找到该申请", code="application_not_found")
    if app.status not in rules.WITHDRAWABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能撤回", code="not_withdrawable")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写撤回原因"]})
    rules.move(app, "withdrawn")
    app.withdraw_reason = reason[:200]
    app.closed_at = clock.utcnow()
    close_cases(app)
    record_event(app, actor, "withdrawn", "您已撤回申请", reason=reason)
    audit.record(actor, "application.withdraw", app, region=app.residence_township_code)
    return app


def close_cases(app: Application) -> None:
    for case_id in (app.case_id, app.info_case_id):
        if case_id:
            casework.close(db.session.get(Case, case_id))


def reply_correction(actor: Actor, user: User, app: Application, text: str, attachment_ids: list[int]) -> Application:
    if not (is_creator(user, app) or is_principal(user, app)):
        raise NotFound("未找到该申请", code="application_not_found")
    if app.status != "correction_requested":
        raise Conflict("当前没有需要补正的材料", code="no_correction_requested")
    text = (text or "").strip()
    if not text and not attachment_ids:
        raise ValidationFailed(errors={"text": ["请填写补正说明或上传材料"]})
    attachments = [get_attachment(app, a) for a in attachment_ids]
    rules.move(app, "submitted")
    event = record_event(
        app,
        actor,
        "correction_submitted",
        "您已提交补正材料，等待受理",
        reason=text or None,
        attachment_ids=attachment_ids,
    )
    db.session.flush()  # the event's id, which the materials name
    for attachment in attachments:
        attachment.correction_event_id = event.id
    casework.resume_clock(db.session.get(Case, app.case_id))
    audit.record(actor, "application.correction_reply", app, region=app.residence_township_code)
    return app


def timeline(app: Application) -> list[ApplicationEvent]:
    return list(
        db.session.scalars(
            select(ApplicationEvent).where(ApplicationEvent.application_id == app.id).order_by(ApplicationEvent.id)
        )
    )
