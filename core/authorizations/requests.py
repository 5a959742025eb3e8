"""Authorization requests: one per adult household member, planned when the household or the letter changes."""

from __future__ import annotations

from sqlalchemy import select

from core import clock
from core.accounts.models import User
from core.actor import Actor
from core.applications import services as applications
from core.applications.models import Application
from core.applications.programs import program_label
from core.audit import services as audit
from core.authorizations import letters
from core.authorizations.models import (
    AuthorizationRequest,
    AuthorizationToken,
)
from core.casework.models import CaseStep
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied
from core.identity import services as identity
from core.idnumber import age_on, validate_id_number

ADULT_AGE = 16


OPEN_STATUSES = ("pending", "verifying", "failed")


def plan(app: Application, *, new: bool = False) -> list[AuthorizationRequest]:
    """One request per member aged 16+, bound to name and ID; members under 16 are covered by the applicant.

    Re-plans when members change; a new letter version puts unsigned requests on the new text. ``new``: the
    application was created in this unit of work (it has no requests yet: nothing to read back)."""
    today = clock.local_today()
    wanted: dict[str, str] = {}
    for member in app.members:
        number, errors = validate_id_number(member.id_number or "")
        if not errors and age_on(number, today) >= ADULT_AGE:
            wanted[number] = (member.name or "").strip()
    if new:
        db.session.flush()  # the application and its household: their id is needed
        created = [
            AuthorizationRequest(
                application_id=app.id,
                member_name=name,
                member_id_number=number,
                letter_version=letters.CURRENT_VERSION,
                status="pending",
            )
            for number, name in wanted.items()
        ]
        db.session.add_all(created)
        db.session.flush()
        return created
    existing = db.session.scalars(
        select(AuthorizationRequest).where(
            AuthorizationRequest.application_id == app.id, AuthorizationRequest.status != "revoked"
        )
    ).all()
    by_number = {r.member_id_number: r for r in existing}
    for number, request in by_number.items():
        if number not in wanted and request.status in OPEN_STATUSES:
            request.status = "revoked"
            request.revoked_at = clock.utcnow()
            revoke_tokens(request)
        elif request.status in OPEN_STATUSES and request.letter_version != letters.CURRENT_VERSION:
            request.letter_version = letters.CURRENT_VERSION
            request.identity_confirmed_at = request.face_passed_at = None
            request.status = "pending"
            revoke_tokens(request)
    for number, name in wanted.items():
        if number in by_number:
            if by_number[number].status in OPEN_STATUSES:
                by_number[number].member_name = name
            continue
        db.session.add(
            AuthorizationRequest(
                application_id=app.id,
                member_name=name,
                member_id_number=number,
                letter_version=letters.CURRENT_VERSION,
                status="pending",
            )
        )
    db.session.flush()
    return list(
        db.session.scalars(
            select(AuthorizationRequest)
            .where(AuthorizationRequest.application_id == app.id, AuthorizationRequest.status != "revoked")
            .order_by(AuthorizationRequest.id)
        )
    )


def replan_for_letter() -> int:
    """After a new letter version is deployed: put every unsigned request on the new text (their QR links
    stop working). The explicit step a letter change needs; reads never re-plan. Returns how many
    applications were re-planned."""
    app_ids = db.session.scalars(
        select(AuthorizationRequest.application_id)
        .where(
            AuthorizationRequest.status.in_(OPEN_STATUSES),
            AuthorizationRequest.letter_version != letters.CURRENT_VERSION,
        )
        .distinct()
    ).all()
    for app_id in app_ids:
        plan(db.session.get(Application, app_id))
    return len(app_ids)


def missing(app: Application) -> list[str]:
    """Why data verification cannot start yet: members whose authorization is not complete."""
    requests = plan(app)
    return [f"{r.member_name}尚未完成授权" for r in requests if r.status not in ("authorized", "offline")]


def revoke_tokens(request: AuthorizationRequest) -> None:
    now = clock.utcnow()
    for token in db.session.scalars(
        select(AuthorizationToken).where(
            AuthorizationToken.request_id == request.id,
            AuthorizationToken.used_at.is_(None),
            AuthorizationToken.revoked_at.is_(None),
        )
    ):
        token.revoked_at = now


def get_request(app: Application, request_id: int) -> AuthorizationRequest:
    request = db.session.scalar(
        select(AuthorizationRequest).where(
            AuthorizationRequest.id == request_id, AuthorizationRequest.application_id == app.id
        )
    )
    if request is None:
        raise NotFound("未找到该成员的授权", code="authorization_not_found")
    return request


def require_owner(user: User, app: Application) -> None:
    if not (applications.is_creator(user, app) or applications.is_principal(user, app)):
        raise NotFound("未找到该申请", code="application_not_found")


def require_verified(user: User) -> None:
    """Asking a member (a person found by ID number) to authorize is acting for an identity: verified only."""
    if not identity.is_verified(user):
        raise PermissionDenied("请先完成实名核验后再请家庭成员授权", code="real_name_unverified")


def open_for_signing(request: AuthorizationRequest) -> None:
    if request.status == "locked":
        raise Conflict("人脸核验失败次数过多，请到乡镇（街道）窗口办理授权", code="authorization_locked")
    if request.status in ("authorized", "offline"):
        raise Conflict("该成员已完成授权", code="already_authorized")
    if request.status == "revoked":
        raise Conflict("该授权已撤销", code="authorization_revoked")


def verification_started(app: Application) -> bool:
    """The data check (信息核对) has been done: authorizations can no longer be withdrawn."""
    return bool(
        app.case_id
        and db.session.scalar(
            select(CaseStep.id).where(
                CaseStep.case_id == app.case_id, CaseStep.step == "data_check", CaseStep.status == "done"
            )
        )
    )


def revoke(actor: Actor, user: User, app: Application, request_id: int) -> AuthorizationRequest:
    """Before the data verification starts, a member may withdraw the authorization."""
    member = get_request(app, request_id).member_id_number
    if not (user.id_number and user.id_number == member) and not applications.is_creator(user, app):
        raise NotFound("未找到该成员的授权", code="authorization_not_found")
    request = get_request(app, request_id)
    if verification_started(app):
        raise Conflict("信息核对已开始，不能撤销授权", code="verification_started")
    if request.status == "revoked":
        raise Conflict("该授权已撤销", code="authorization_revoked")
    request.status, request.revoked_at = "revoked", clock.utcnow()
    revoke_tokens(request)
    audit.record(actor, "authorization.revoke", request, region=app.residence_township_code)
    # a fresh request lets the member authorize again later
    db.session.add(
        AuthorizationRequest(
            application_id=app.id,
            member_name=request.member_name,
            member_id_number=request.member_id_number,
            letter_version=letters.CURRENT_VERSION,
            status="pending",
        )
    )
    return request


def requests_of(app: Application) -> list[AuthorizationRequest]:
    """The current requests (read only: ``plan`` runs when the household or the letter changes)."""
    return list(
        db.session.scalars(
            select(AuthorizationRequest)
            .where(AuthorizationRequest.application_id == app.id, AuthorizationRequest.status != "revoked")
            .order_by(AuthorizationRequest.id)
        )
    )


def of_member(user: User) -> list[dict]:
    """The authorizations a verified person was asked for or gave, in any household's application (the
    member's own view, from which consent can be withdrawn — PIPL art. 15)."""
    if not identity.is_verified(user):
        return []
    rows = db.session.execute(
        select(AuthorizationRequest, Application)
        .join(Application, Application.id == AuthorizationRequest.application_id)
        .where(AuthorizationRequest.member_id_number == user.id_number, AuthorizationRequest.status != "revoked")
        .order_by(AuthorizationRequest.id.desc())
        .limit(100)
    ).all()
    return [
        {
            "request": request,
            "application_reference": app.reference,
            "program_label": program_label(app.program),
            "applicant_name": app.applicant_name,
            "revocable": not verification_started(app),
        }
        for request, app in rows
    ]


def revoke_as_member(actor: Actor, user: User, request_id: int) -> AuthorizationRequest:
    """The member withdraws their own authorization (before the data check starts), whoever applied."""
    request = db.session.scalar(select(AuthorizationRequest).where(AuthorizationRequest.id == request_id))
    if request is None or not identity.is_verified(user) or request.member_id_number != user.id_number:
        raise NotFound("未找到该成员的授权", code="authorization_not_found")
    return revoke(actor, user, db.session.get(Application, request.application_id), request_id)
