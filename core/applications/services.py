"""Relief applications: drafts, attachments, submit and routing, withdrawal, corrections, acceptance."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import selectinload

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications import conflicts, notify, rules, settings, workflow
from core.applications.models import (
    STATUSES,
    Application,
    ApplicationEvent,
    Attachment,
)
from core.applications.programs import MATERIALS, PROGRAMS, program_label
from core.applications.validation import validate_for_submit
from core.audit import services as audit
from core.casework import services as casework
from core.casework.models import Case
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.files import storage
from core.households.models import Asset, HouseholdMember, Income
from core.households.vocabulary import PROXY_REASONS, PROXY_RELATIONS
from core.identity import services as identity
from core.idnumber import mask, validate_id_number
from core.regions.services import names_for

DRAFT_FIELDS = (
    "residence_township_code",
    "residence_village_code",
    "residence_address",
    "hukou_township_code",
    "hardship_reason",
    "applicant_phone",
)


@dataclass(frozen=True)
class Page:
    items: list[Application]
    total: int


# --- access ---------------------------------------------------------------------------------


def _owned_by(user: User) -> Any:
    """Applications this log-in's person created: ownership follows the verified person (every linked
    log-in sees what any of them created); only what a log-in made while unverified belongs to the log-in.
    A log-in re-bound to another ID number leaves the old person's applications behind."""
    unverified_own = and_(Application.created_by_identity_id.is_(None), Application.created_by_user_id == user.id)
    if identity.is_verified(user):
        return or_(Application.created_by_identity_id == user.identity_id, unverified_own)
    return unverified_own


def _citizen_clause(user: User) -> Any:
    own = _owned_by(user)
    if identity.is_verified(user):
        # The principal of a proxy application sees it once submitted, by their real-name identity.
        return or_(own, and_(Application.applicant_id_number == user.id_number, Application.status != "draft"))
    return own


WITH_HOUSEHOLD = (
    selectinload(Application.members),
    selectinload(Application.incomes),
    selectinload(Application.assets),
)


def get_for_citizen(user: User, application_id: int) -> Application:
    app = db.session.scalar(
        select(Application).where(Application.id == application_id, _citizen_clause(user)).options(*WITH_HOUSEHOLD)
    )
    if app is None:
        raise NotFound("未找到该申请", code="application_not_found")
    return app


def list_for_citizen(user: User, *, page: int, page_size: int, status: str | None = None) -> Page:
    stmt = select(Application).where(_citizen_clause(user))
    if status:
        stmt = stmt.where(Application.status == status)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(Application.created_at.desc(), Application.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return Page(list(rows), total)


def is_creator(user: User, app: Application) -> bool:
    """Did this log-in's person create the application (see ``_owned_by``)?"""
    if app.created_by_identity_id is not None:
        return identity.is_verified(user) and user.identity_id == app.created_by_identity_id
    return app.created_by_user_id is not None and app.created_by_user_id == user.id


def is_principal(user: User, app: Application) -> bool:
    return identity.is_verified(user) and user.id_number == app.applicant_id_number


# --- drafts ---------------------------------------------------------------------------------


def _reference() -> str:
    return f"SQ{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}"


_event = notify.record_event


def create_draft(
    actor: Actor, user: User, program: str, *, on_behalf_of: dict | None, fields: dict[str, Any]
) -> Application:
    own_name, own_number, _verified = identity.acting_identity(user)
    if not own_number:
        raise PermissionDenied("请先填写实名信息（姓名、身份证号）后再申请", code="real_name_required")
    if program not in PROGRAMS:
        raise ValidationFailed(errors={"program": ["救助项目不存在"]})
    app = Application(
        reference=_reference(),
        program=program,
        status="draft",
        created_by_user_id=user.id,
        created_by_identity_id=user.identity_id if identity.is_verified(user) else None,
    )
    if on_behalf_of:
        errors: dict[str, Any] = {}
        number, id_errors = validate_id_number(on_behalf_of.get("id_number", ""))
        if id_errors:
            errors["id_number"] = id_errors
        elif number == own_number:
            errors["id_number"] = ["为本人申请无需选择代办"]
        if on_behalf_of.get("relation") not in PROXY_RELATIONS:
            errors["relation"] = ["请选择代办人身份"]
        if on_behalf_of.get("reason") not in PROXY_REASONS:
            errors["reason"] = ["请选择代办原因"]
        if errors:
            raise ValidationFailed(errors={"on_behalf_of": errors})
        app.is_proxy = True
        app.principal_confirmed = False
        app.applicant_name = on_behalf_of["name"].strip()
        app.applicant_id_number = number
        app.applicant_phone = on_behalf_of.get("phone")
        app.proxy_relation = on_behalf_of["relation"]
        app.proxy_reason = on_behalf_of["reason"]
        app.proxy_reason_note = on_behalf_of.get("reason_note")
    else:
        app.applicant_name, app.applicant_id_number, app.applicant_phone = own_name, own_number, user.phone
    db.session.add(app)
    db.session.flush()
    if "members" not in fields:
        # start the household with the applicant
        fields = {
            **fields,
            "members": [{"name": app.applicant_name, "id_number": app.applicant_id_number, "relation": "self"}],
        }
    _apply(app, fields)
    db.session.flush()
    _household_changed(app)
    audit.record(actor, "application.create", app, program=program, proxy=app.is_proxy)
    return app


# Areas that derive records from the household (authorization requests per adult member) register here
# explicitly (core.setup.wire): applications never import them.
_household_listeners: dict[str, Callable[[Application], object]] = {}


def on_household_change(name: str, listener: Callable[[Application], object]) -> None:
    _household_listeners[name] = listener


def adopt_drafts(user: User, identity: Any) -> None:
    """A log-in's first real-name verification: what it drafted before becomes the person's (seen and
    acted on from every linked log-in). Registered with core.identity by core.setup.wire."""
    db.session.execute(
        update(Application)
        .where(Application.created_by_user_id == user.id, Application.created_by_identity_id.is_(None))
        .values(created_by_identity_id=identity.id)
        .execution_options(synchronize_session=False)
    )


def _household_changed(app: Application) -> None:
    for listener in _household_listeners.values():
        listener(app)


def _apply(app: Application, fields: dict[str, Any]) -> None:
    for field in DRAFT_FIELDS:
        if field in fields:
            setattr(app, field, fields[field])
    if "members" in fields:
        app.members = [
            HouseholdMember(
                position=i, **_only(m, ("name", "id_number", "relation", "health", "disability_grade", "employment"))
            )
            for i, m in enumerate(fields["members"] or [])
        ]
        for member in app.members:
            if member.id_number:
                member.id_number = member.id_number.strip().upper()
    if "incomes" in fields:
        app.incomes = [
            Income(position=i, **_only(x, ("member_index", "category", "monthly_amount", "note")))
            for i, x in enumerate(fields["incomes"] or [])
        ]
    if "assets" in fields:
        app.assets = [
            Asset(position=i, **_only(x, ("kind", "description", "address", "area_sqm", "value_yuan", "quantity")))
            for i, x in enumerate(fields["assets"] or [])
        ]


def _only(data: dict, keys: tuple[str, ...]) -> dict:
    return {k: data.get(k) for k in keys}


def update_draft(actor: Actor, user: User, app: Application, fields: dict[str, Any]) -> Application:
    if not is_creator(user, app):
        raise PermissionDenied("只有填写人可以修改草稿")
    if app.status not in rules.EDITABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能再修改", code="not_editable")
    _apply(app, fields)
    app.updated_at = clock.utcnow()
    db.session.flush()
    if "members" in fields:
        _household_changed(app)
    return app


# --- attachments ------------------------------------------------------------------------------


def add_attachment(
    actor: Actor, user: User, app: Application, material: str, data: bytes, filename: str | None, *, max_bytes: int
) -> Attachment:
    if material not in MATERIALS:
        raise ValidationFailed(errors={"material": ["请选择材料类别"]})
    if app.status not in rules.UPLOADS_ALLOWED:
        raise Conflict("当前状态不能上传材料", code="not_editable")
    stored = storage.store_upload(data, filename, max_bytes=max_bytes, area="attachments")
    attachment = Attachment(
        application_id=app.id,
        material=material,
        original_name=stored.original_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.storage_key,
        uploaded_by_user_id=user.id,
    )
    db.session.add(attachment)
    db.session.flush()
    audit.record(actor, "application.attachment_add", app, material=material, attachment_id=attachment.id)
    return attachment


def get_attachment(app: Application, attachment_id: int) -> Attachment:
    attachment = db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.application_id == app.id)
    )
    if attachment is None:
        raise NotFound("未找到该材料", code="attachment_not_found")
    return attachment


def attachments_of(app: Application) -> list[Attachment]:
    return list(
        db.session.scalars(select(Attachment).where(Attachment.application_id == app.id).order_by(Attachment.id))
    )


def delete_attachment(actor: Actor, user: User, app: Application, attachment_id: int) -> None:
    attachment = get_attachment(app, attachment_id)
    if app.status not in rules.UPLOADS_ALLOWED or attachment.correction_event_id is not None:
        raise Conflict("已提交的材料不能删除", code="not_editable")
    db.session.delete(attachment)
    audit.record(actor, "application.attachment_delete", app, attachment_id=attachment_id)
    storage.delete(attachment.storage_key)


# --- submit and routing -------------------------------------------------------------------------


def submit(actor: Actor, user: User, app: Application, *, default_accept_days: int) -> Application:
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
    program_settings = (
        settings.effective(county, app.program, default_accept_days=default_accept_days) if len(county) == 6 else None
    )
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
    app.case_id = _route(actor, app, "application", app.residence_township_code, days, user.id).id
    if app.hukou_township_code != app.residence_township_code:
        app.info_case_id = _route(actor, app, "application_info", app.hukou_township_code, days, user.id).id
    rules.move(app, "submitted")
    app.submitted_at = clock.utcnow()
    _event(
        app,
        actor,
        "submitted",
        f"您的{program_label(app.program)}申请已提交，等待{names.get(app.residence_township_code, '乡镇（街道）')}受理",
        township=app.residence_township_code,
        proxy=app.is_proxy,
    )
    audit.record(actor, "application.submit", app, region=app.residence_township_code, case_id=app.case_id)
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
    default_accept_days: int,
) -> Application:
    """An officer applies on behalf of a person found through a report (the window path).

    The application starts submitted with what is known; the township completes it with the family.
    """
    if program not in PROGRAMS:
        raise ValidationFailed(errors={"program": ["救助项目不存在"]})
    app = Application(
        reference=_reference(),
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
    days = settings.effective(county, program, default_accept_days=default_accept_days).accept_working_days
    case = _route(actor, app, "application", township_code, days, None)
    app.case_id = case.id
    township = names_for({township_code}).get(township_code, "乡镇（街道）")
    _event(app, actor, "submitted", f"{township}已为您代为提交{program_label(program)}申请，工作人员将与您联系")
    audit.record(actor, "application.start_for_person", app, region=township_code, case_id=case.id)
    return app


def _route(actor: Actor, app: Application, kind: str, township_code: str, days: int, user_id: int | None) -> Case:
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


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


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
    _close_cases(app)
    _event(app, actor, "withdrawn", "您已撤回申请", reason=reason)
    audit.record(actor, "application.withdraw", app, region=app.residence_township_code)
    return app


def _close_cases(app: Application) -> None:
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
    event = _event(
        app,
        actor,
        "correction_submitted",
        "您已提交补正材料，等待受理",
        reason=text or None,
        attachment_ids=attachment_ids,
    )
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


# --- officers -----------------------------------------------------------------------------------


def get_for_officer(actor: Actor, application_id: int) -> tuple[Application, Case]:
    """The application and the officer's own case for it (handling or information copy)."""
    app = db.session.get(Application, application_id, options=WITH_HOUSEHOLD)
    if app is None or app.status == "draft":
        raise NotFound("未找到该申请", code="application_not_found")
    for case_id in (app.case_id, app.info_case_id):
        if case_id is None:
            continue
        try:
            return app, casework.get_case_for_officer(actor, case_id)
        except NotFound:
            continue
    raise NotFound("未找到该申请", code="application_not_found")


def _handling(actor: Actor, application_id: int) -> tuple[Application, Case]:
    app, case = get_for_officer(actor, application_id)
    if case.is_info_copy:
        raise PermissionDenied("户籍地乡镇（街道）仅可查看，由居住地乡镇（街道）办理")
    return app, case


def _township_name(app: Application) -> str:
    return names_for({app.residence_township_code}).get(app.residence_township_code, "乡镇（街道）")


def accept(actor: Actor, application_id: int) -> Application:
    app, case = _handling(actor, application_id)
    if app.status not in rules.ACCEPTABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能受理", code="invalid_transition")
    rules.move(app, "accepted")
    casework.start_work(case, officer_id=actor.id)
    _event(app, actor, "accepted", f"{_township_name(app)}已受理您的申请")
    audit.record(actor, "application.accept", app, region=case.township_code)
    workflow.start(actor, app, case)
    return app


def request_correction(actor: Actor, application_id: int, reason: str) -> Application:
    app, case = _handling(actor, application_id)
    if app.status != "submitted":
        raise Conflict(f"申请{STATUSES[app.status]}，不能要求补正", code="invalid_transition")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写需要补正的内容"]})
    rules.move(app, "correction_requested")
    casework.pause_clock(case)  # not overdue while waiting for the citizen

    _event(app, actor, "correction_requested", f"{_township_name(app)}请您补正材料：{reason}", reason=reason)
    audit.record(actor, "application.request_correction", app, region=case.township_code)
    return app


def reject_at_acceptance(actor: Actor, application_id: int, reason: str) -> Application:
    app, case = _handling(actor, application_id)
    if app.status not in rules.REFUSABLE:
        raise Conflict(f"申请{STATUSES[app.status]}，不能作不予受理决定", code="invalid_transition")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(errors={"reason": ["请填写不予受理的理由"]})
    rules.move(app, "not_accepted")
    app.closed_at = clock.utcnow()
    _close_cases(app)
    _event(
        app,
        actor,
        "not_accepted",
        f"{_township_name(app)}决定不予受理：{reason}。如有异议，可向县级民政部门反映",
        reason=reason,
    )
    audit.record(actor, "application.not_accept", app, region=case.township_code)
    return app


def conflicts_for_officer(actor: Actor, app: Application, case: Case) -> list[conflicts.ConflictView]:
    """The member conflicts of an application as this officer may see them (their side only)."""
    return conflicts.views_for(actor, app, handling=not case.is_info_copy)


def resolve_conflict(actor: Actor, application_id: int, conflict_id: int, choice: str, reason: str) -> Application:
    """Decide which household a member named in two applications belongs to (audited, reason required)."""
    app, case = _handling(actor, application_id)
    conflicts.resolve(actor, app, case, conflict_id, choice, reason)
    return app


def reveal_id_numbers(actor: Actor, app: Application) -> None:
    """Officers see masked ID numbers; showing them in full is an audited action."""
    audit.record(
        actor, "application.reveal_id_numbers", app, region=app.residence_township_code, members=len(app.members)
    )


def masked_members(app: Application) -> list[dict]:
    return [
        {
            "name": m.name,
            "id_number": mask(m.id_number),
            "relation": m.relation,
            "health": m.health,
            "disability_grade": m.disability_grade,
            "employment": m.employment,
        }
        for m in app.members
    ]


def monthly_income_total(app: Application) -> Decimal:
    return sum((Decimal(i.monthly_amount or 0) for i in app.incomes), Decimal(0))


def delete_draft(actor: Actor, user: User, app: Application) -> None:
    """A draft the user no longer wants: gone with its materials (submitted applications are withdrawn instead)."""
    if not is_creator(user, app):
        raise PermissionDenied("只有填写人可以删除草稿")
    if app.status != "draft":
        raise Conflict("已提交的申请不能删除，如需撤回请使用撤回功能", code="not_a_draft")
    keys = [a.storage_key for a in attachments_of(app)]
    audit.record(actor, "application.delete_draft", app)
    db.session.delete(app)
    db.session.flush()
    for key in keys:
        storage.delete(key)
