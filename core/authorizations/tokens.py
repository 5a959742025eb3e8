"""QR links to a member's own phone and same-phone hand-overs: keyed hashes, single use, expiring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core import clock, crypto
from core.accounts.models import User
from core.actor import Actor
from core.applications.models import Application
from core.audit import services as audit
from core.authorizations import letters
from core.authorizations.models import (
    AuthorizationRequest,
    AuthorizationToken,
)
from core.authorizations.requests import (
    get_request,
    open_for_signing,
    plan,
    require_owner,
    require_verified,
    revoke_tokens,
)
from core.database import db
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.idnumber import validate_id_number


def _new_token(request: AuthorizationRequest, user: User, kind: str, ttl: timedelta) -> tuple[str, AuthorizationToken]:
    token = crypto.random_token(24)
    row = AuthorizationToken(
        request_id=request.id,
        kind=kind,
        token_hash=crypto.token_hash(f"auth:{token}"),
        created_by_user_id=user.id,
        expires_at=clock.utcnow() + ttl,
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def issue_qr(actor: Actor, user: User, app: Application, request_id: int, *, ttl_hours: int) -> tuple[str, Any]:
    """A QR link for the member's own phone; an earlier one for the member stops working."""
    require_owner(user, app)
    require_verified(user)
    plan(app)
    request = get_request(app, request_id)
    open_for_signing(request)
    revoke_tokens(request)
    token, row = _new_token(request, user, "qr", timedelta(hours=ttl_hours))
    audit.record(actor, "authorization.qr_issue", request, region=app.residence_township_code)
    return token, row.expires_at


def revoke_qr(actor: Actor, user: User, app: Application, request_id: int) -> None:
    require_owner(user, app)
    request = get_request(app, request_id)
    revoke_tokens(request)
    audit.record(actor, "authorization.qr_revoke", request, region=app.residence_township_code)


def start_handover(actor: Actor, user: User, app: Application, request_id: int, *, ttl_minutes: int) -> tuple[str, Any]:
    """Same phone, many people: a short session scoped to this one member."""
    require_owner(user, app)
    require_verified(user)
    plan(app)
    request = get_request(app, request_id)
    open_for_signing(request)
    token, row = _new_token(request, user, "handover", timedelta(minutes=ttl_minutes))
    audit.record(actor, "authorization.handover", request, region=app.residence_township_code)
    return token, row.expires_at


def resolve(token: str, user: User) -> tuple[AuthorizationToken, AuthorizationRequest, Application]:
    """The token grants nothing by itself: a QR must be opened by the member's own real-name account,
    a hand-over only on the phone (account) that started it."""
    row = db.session.scalar(
        select(AuthorizationToken).where(AuthorizationToken.token_hash == crypto.token_hash(f"auth:{token}"))
    )
    if row is None:
        raise NotFound("授权链接无效", code="authorization_token_invalid")
    if row.revoked_at is not None:
        raise Conflict("授权链接已失效，请向申请人索取新的二维码", code="authorization_token_revoked")
    if row.used_at is not None:
        raise Conflict("授权链接已使用", code="authorization_token_used")
    if row.expires_at <= clock.utcnow():
        raise Conflict("授权链接已过期，请向申请人索取新的二维码", code="authorization_token_expired")
    request = db.session.get(AuthorizationRequest, row.request_id)
    if row.kind == "qr":
        if not user.id_number:
            raise PermissionDenied("请先完成实名认证后再扫码授权", code="real_name_required")
        if user.id_number != request.member_id_number:
            raise PermissionDenied("该授权码不是发给您的，请本人扫码", code="authorization_wrong_person")
    elif row.created_by_user_id != user.id:
        raise NotFound("授权链接无效", code="authorization_token_invalid")
    return row, request, db.session.get(Application, request.application_id)


def letter_view(token: str, user: User) -> dict:
    row, request, app = resolve(token, user)
    from core.applications.programs import program_label

    return {
        "member_name": request.member_name,
        "program": app.program,
        "program_label": program_label(app.program),
        "application_reference": app.reference,
        "purpose": letters.PURPOSE,
        "letter_version": request.letter_version,
        "letter_hash": letters.letter_hash(request.letter_version),
        "letter_text": letters.LETTERS[request.letter_version],
        "data_categories": letters.DATA_CATEGORIES,
        "validity": letters.VALIDITY,
        "status": request.status,
        "method": "qr" if row.kind == "qr" else "same_phone",
        "identity_confirmed": request.identity_confirmed_at is not None or row.kind == "qr",
        "face_passed": request.face_passed_at is not None,
        "expires_at": row.expires_at,
    }


def confirm_identity(token: str, user: User, id_number: str) -> AuthorizationRequest:
    _, request, _ = resolve(token, user)
    open_for_signing(request)
    number, errors = validate_id_number(id_number)
    if errors:
        raise ValidationFailed(errors={"id_number": errors})
    if number != request.member_id_number:
        raise ValidationFailed(errors={"id_number": ["身份证号码与该家庭成员不一致"]}, code="identity_mismatch")
    request.identity_confirmed_at = clock.utcnow()
    return request


def resolve_for_result(token: str, user: User) -> tuple[AuthorizationToken, AuthorizationRequest, Application]:
    """Like resolve, but a used token may still read its own results."""
    row = db.session.scalar(
        select(AuthorizationToken).where(AuthorizationToken.token_hash == crypto.token_hash(f"auth:{token}"))
    )
    if row is None or (row.used_at is None and (row.revoked_at or row.expires_at <= clock.utcnow())):
        return resolve(token, user)
    request = db.session.get(AuthorizationRequest, row.request_id)
    if (row.kind == "qr" and user.id_number != request.member_id_number) or (
        row.kind == "handover" and row.created_by_user_id != user.id
    ):
        raise NotFound("授权链接无效", code="authorization_token_invalid")
    return row, request, db.session.get(Application, request.application_id)
