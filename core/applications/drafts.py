"""Drafts: created for oneself or as a proxy, saved as typed, deleted; the household-change hook."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications import attachments, notify, rules
from core.applications.attachments import attachments_of
from core.applications.citizen_access import is_creator
from core.applications.models import (
    STATUSES,
    Application,
)
from core.applications.programs import PROGRAMS
from core.audit import services as audit
from core.database import db
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.files import storage
from core.households.models import Asset, HouseholdMember, Income
from core.households.vocabulary import PROXY_REASONS, PROXY_RELATIONS
from core.identity import services as identity
from core.idnumber import validate_id_number

DRAFT_FIELDS = (
    "residence_township_code",
    "residence_village_code",
    "residence_address",
    "hukou_township_code",
    "hardship_reason",
    "applicant_phone",
)


def new_reference() -> str:
    return f"SQ{clock.local_today():%Y%m%d}{secrets.token_hex(4).upper()}"


record_event = notify.record_event


def create_draft(
    actor: Actor, user: User, program: str, *, on_behalf_of: dict | None, fields: dict[str, Any]
) -> Application:
    own_name, own_number, _verified = identity.acting_identity(user)
    if not own_number:
        raise PermissionDenied("请先填写实名信息（姓名、身份证号）后再申请", code="real_name_required")
    if program not in PROGRAMS:
        raise ValidationFailed(errors={"program": ["救助项目不存在"]})
    app = Application(
        reference=new_reference(),
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
    if "members" not in fields:
        # start the household with the applicant
        fields = {
            **fields,
            "members": [{"name": app.applicant_name, "id_number": app.applicant_id_number, "relation": "self"}],
        }
    _apply(app, fields)  # on the pending object: its lists start empty, nothing is loaded
    db.session.add(app)
    household_changed(app, new=True)  # flushes the application, its household and its authorizations at once
    attachments.none_yet(app)
    audit.record(actor, "application.create", app, program=program, proxy=app.is_proxy)
    return app


_household_listeners: dict[str, Callable[..., object]] = {}


def on_household_change(name: str, listener: Callable[..., object]) -> None:
    """``listener(app, new=...)``: ``new`` is True for an application not flushed yet (nothing of it stored)."""
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


def household_changed(app: Application, *, new: bool = False) -> None:
    for listener in _household_listeners.values():
        listener(app, new=new)


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
        household_changed(app)
    return app


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
