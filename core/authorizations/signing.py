"""The handwritten signature after the latest passing face check, and the township window alternative."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import clock, crypto
from core.accounts.models import User
from core.actor import Actor
from core.applications.models import Application
from core.audit import services as audit
from core.authorizations import evidence, letters
from core.authorizations.evidence import append_evidence
from core.authorizations.models import (
    AuthorizationRequest,
    FaceVerification,
    Signature,
)
from core.authorizations.requests import get_request, missing, open_for_signing, plan, revoke_tokens
from core.authorizations.tokens import resolve
from core.database import db
from core.errors import Conflict
from core.files import signatures, storage


def _check_signature(data: bytes, max_bytes: int) -> bytes:
    return signatures.check_png(data, max_bytes)


def _signable_face_check(request: AuthorizationRequest, window_seconds: int) -> FaceVerification:
    """The signature follows the LATEST face check of this request: it passed, no check failed after it,
    and it finished within the window."""
    latest = db.session.scalar(
        select(FaceVerification)
        .where(FaceVerification.request_id == request.id)
        .order_by(FaceVerification.id.desc())
        .limit(1)
    )
    if latest is None or latest.status != "passed":
        if latest is not None and latest.status == "queued":
            raise Conflict("人脸核验尚未完成，请稍候", code="face_check_pending")
        raise Conflict("请先完成人脸核验", code="face_not_verified")
    failed_later = db.session.scalar(
        select(func.count())
        .select_from(FaceVerification)
        .where(
            FaceVerification.request_id == request.id,
            FaceVerification.status == "failed",
            FaceVerification.finished_at >= latest.finished_at,
        )
    )
    if failed_later:
        raise Conflict("请先完成人脸核验", code="face_not_verified")
    if latest.finished_at + timedelta(seconds=window_seconds) < clock.utcnow():
        raise Conflict(f"人脸核验已超过{max(window_seconds // 60, 1)}分钟，请重新核验后签名", code="face_check_expired")
    return latest


def sign(
    actor: Actor,
    token: str,
    user: User,
    data: bytes,
    *,
    max_bytes: int,
    face_window_seconds: int,
    device: str | None,
) -> AuthorizationRequest:
    row, request, app = resolve(token, user)
    # one signature of an application at a time; then re-read what a concurrent one may have changed
    evidence.lock_application(app.id)
    db.session.refresh(row)
    db.session.refresh(request)
    if row.used_at is not None:
        raise Conflict("授权链接已使用", code="authorization_token_used")
    open_for_signing(request)
    verification = _signable_face_check(request, face_window_seconds)
    data = _check_signature(data, max_bytes)
    stored = storage.store_upload(
        data, "signature.png", allowed=(storage.PNG,), max_bytes=max_bytes, area="signatures", field="signature"
    )
    signature = Signature(request_id=request.id, storage_key=stored.storage_key, sha256=stored.sha256)
    db.session.add(signature)
    now = clock.utcnow()
    method = "qr" if row.kind == "qr" else "same_phone"
    request.status, request.method, request.authorized_at = "authorized", method, now
    row.used_at = now
    append_evidence(
        app,
        request,
        {
            "member": request.member_name,
            "member_id_hash": crypto.token_hash(f"member:{request.member_id_number}"),
            "method": method,
            "letter_version": request.letter_version,
            "letter_hash": letters.letter_hash(request.letter_version),
            "face": {
                "verification_id": verification.id,
                "distance": verification.distance,
                "threshold": verification.threshold,
                "liveness": verification.liveness,
                "challenge_id": verification.challenge_id,
            },
            "signature_sha256": signature.sha256,
            "device": (device or "")[:200],
            "ip": actor.ip,
            "authorized_at": now.isoformat(),
            "face_at": verification.finished_at.isoformat(),
        },
    )
    if app.is_proxy and request.member_id_number == app.applicant_id_number:
        app.principal_confirmed = True  # the principal's own authorization is their confirmation
    audit.record(actor, "authorization.sign", request, region=app.residence_township_code, method=method)
    gate_opened(actor, app)
    return request


def window_authorize(
    actor: Actor, app: Application, request_id: int, scan: bytes, filename: str | None, *, max_bytes: int
) -> AuthorizationRequest:
    """The non-face alternative: the member signs the paper letter at the township window; an officer records it."""
    plan(app)
    request = get_request(app, request_id)
    if request.status in ("authorized", "offline"):
        raise Conflict("该成员已完成授权", code="already_authorized")
    stored = storage.store_upload(scan, filename, max_bytes=max_bytes, area="signatures", field="scan")
    signature = Signature(request_id=request.id, storage_key=stored.storage_key, sha256=stored.sha256)
    db.session.add(signature)
    now = clock.utcnow()
    request.status, request.method, request.authorized_at = "offline", "window", now
    revoke_tokens(request)
    append_evidence(
        app,
        request,
        {
            "member": request.member_name,
            "member_id_hash": crypto.token_hash(f"member:{request.member_id_number}"),
            "method": "window",
            "letter_version": request.letter_version,
            "letter_hash": letters.letter_hash(request.letter_version),
            "scan_sha256": signature.sha256,
            "officer_id": actor.id,
            "ip": actor.ip,
            "authorized_at": now.isoformat(),
        },
    )
    if app.is_proxy and request.member_id_number == app.applicant_id_number:
        app.principal_confirmed = True
    audit.record(actor, "authorization.window", request, region=app.residence_township_code)
    gate_opened(actor, app)
    return request


# Called when an authorization completes the set (every adult member authorized), in the same transaction
# (the economic check queues itself there: core.checks, wired by core.setup).
_gate_listeners: dict[str, Any] = {}


def on_gate_open(name: str, listener: Any) -> None:
    """``listener(actor, application)`` runs when the last adult's authorization opens the check gate."""
    _gate_listeners[name] = listener


def gate_opened(actor: Actor, app: Application) -> None:
    if _gate_listeners and not missing(app):
        for listener in _gate_listeners.values():
            listener(actor, app)


def signatures_of(app: Application) -> dict[int, Signature]:
    rows = db.session.scalars(
        select(Signature)
        .join(AuthorizationRequest, AuthorizationRequest.id == Signature.request_id)
        .where(AuthorizationRequest.application_id == app.id)
    ).all()
    return {s.request_id: s for s in rows}
