"""Electronic authorization of the household economic check: requests per adult member, QR and
same-phone hand-over, face verification, handwritten signature, chained and sealed evidence."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import clock, crypto
from core.accounts.models import User
from core.actor import Actor
from core.applications import services as applications
from core.applications.models import Application
from core.audit import services as audit
from core.authorizations import letters
from core.authorizations.models import (
    AuthorizationRequest,
    AuthorizationToken,
    Evidence,
    FaceVerification,
    Signature,
)
from core.database import db, enqueue_after_commit
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.files import signatures, storage
from core.identity import services as identity
from core.idnumber import age_on, validate_id_number
from core.liveness import services as liveness
from core.liveness.models import FaceChallenge

ADULT_AGE = 16
FACE_TASK = "faces.verify"
MAX_FAILURES = 3
OPEN_STATUSES = ("pending", "verifying", "failed")
CHALLENGE_PURPOSE = "authorization"  # face challenges of an authorization: subject = the AuthorizationRequest id


@dataclass(frozen=True)
class FaceSettings:
    tolerance: float = 0.6
    turn_threshold: float = 0.15
    retention_seconds: int = 0
    max_frame_bytes: int = 2 * 1024 * 1024
    challenge_ttl_seconds: int = 180
    sign_window_seconds: int = 600
    replay_max_distance: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FaceSettings:
        return cls(
            tolerance=config["FACE_TOLERANCE"],
            turn_threshold=config["FACE_TURN_THRESHOLD"],
            retention_seconds=config["FACE_FRAME_RETENTION_SECONDS"],
            max_frame_bytes=config["FACE_MAX_FRAME_BYTES"],
            challenge_ttl_seconds=config["FACE_CHALLENGE_TTL_SECONDS"],
            sign_window_seconds=config["FACE_SIGN_WINDOW_SECONDS"],
            replay_max_distance=config["FACE_REPLAY_MAX_DISTANCE"],
        )

    @property
    def liveness(self) -> liveness.LivenessSettings:
        return liveness.LivenessSettings(
            challenge_ttl_seconds=self.challenge_ttl_seconds,
            turn_threshold=self.turn_threshold,
            replay_max_distance=self.replay_max_distance,
        )


# --- planning -----------------------------------------------------------------------------------


def plan(app: Application) -> list[AuthorizationRequest]:
    """One request per member aged 16+, bound to name and ID; members under 16 are covered by the applicant.

    Re-plans when members change; a new letter version puts unsigned requests on the new text."""
    today = clock.local_today()
    wanted: dict[str, str] = {}
    for member in app.members:
        number, errors = validate_id_number(member.id_number or "")
        if not errors and age_on(number, today) >= ADULT_AGE:
            wanted[number] = (member.name or "").strip()
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
            _revoke_tokens(request)
        elif request.status in OPEN_STATUSES and request.letter_version != letters.CURRENT_VERSION:
            request.letter_version = letters.CURRENT_VERSION
            request.identity_confirmed_at = request.face_passed_at = None
            request.status = "pending"
            _revoke_tokens(request)
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


def _revoke_tokens(request: AuthorizationRequest) -> None:
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


def _require_owner(user: User, app: Application) -> None:
    if not (applications.is_creator(user, app) or applications.is_principal(user, app)):
        raise NotFound("未找到该申请", code="application_not_found")


def _require_verified(user: User) -> None:
    """Asking a member (a person found by ID number) to authorize is acting for an identity: verified only."""
    if not identity.is_verified(user):
        raise PermissionDenied("请先完成实名核验后再请家庭成员授权", code="real_name_unverified")


def _open_for_signing(request: AuthorizationRequest) -> None:
    if request.status == "locked":
        raise Conflict("人脸核验失败次数过多，请到乡镇（街道）窗口办理授权", code="authorization_locked")
    if request.status in ("authorized", "offline"):
        raise Conflict("该成员已完成授权", code="already_authorized")
    if request.status == "revoked":
        raise Conflict("该授权已撤销", code="authorization_revoked")


# --- tokens ----------------------------------------------------------------------------------------


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
    _require_owner(user, app)
    _require_verified(user)
    plan(app)
    request = get_request(app, request_id)
    _open_for_signing(request)
    _revoke_tokens(request)
    token, row = _new_token(request, user, "qr", timedelta(hours=ttl_hours))
    audit.record(actor, "authorization.qr_issue", request, region=app.residence_township_code)
    return token, row.expires_at


def revoke_qr(actor: Actor, user: User, app: Application, request_id: int) -> None:
    _require_owner(user, app)
    request = get_request(app, request_id)
    _revoke_tokens(request)
    audit.record(actor, "authorization.qr_revoke", request, region=app.residence_township_code)


def start_handover(actor: Actor, user: User, app: Application, request_id: int, *, ttl_minutes: int) -> tuple[str, Any]:
    """Same phone, many people: a short session scoped to this one member."""
    _require_owner(user, app)
    _require_verified(user)
    plan(app)
    request = get_request(app, request_id)
    _open_for_signing(request)
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
    _open_for_signing(request)
    number, errors = validate_id_number(id_number)
    if errors:
        raise ValidationFailed(errors={"id_number": errors})
    if number != request.member_id_number:
        raise ValidationFailed(errors={"id_number": ["身份证号码与该家庭成员不一致"]}, code="identity_mismatch")
    request.identity_confirmed_at = clock.utcnow()
    return request


# --- face --------------------------------------------------------------------------------------------


def failures_last_day(request: AuthorizationRequest) -> int:
    since = clock.utcnow() - timedelta(hours=24)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(FaceVerification)
            .where(
                FaceVerification.request_id == request.id,
                FaceVerification.status == "failed",
                FaceVerification.created_at >= since,
            )
        )
        or 0
    )


def _require_identity(row: AuthorizationToken, request: AuthorizationRequest) -> None:
    if row.kind == "handover" and request.identity_confirmed_at is None:
        raise Conflict("请先由本人输入身份证号码确认身份", code="identity_not_confirmed")


def face_challenge(actor: Actor, token: str, user: User, session_id: str, *, settings: FaceSettings) -> FaceChallenge:
    """A fresh challenge (nonce + head-turn order) for this member's next face check, bound to this
    authorization request and to the device session asking for it; valid FACE_CHALLENGE_TTL_SECONDS."""
    row, request, _ = resolve(token, user)
    _open_for_signing(request)
    _require_identity(row, request)
    return liveness.issue_challenge(
        CHALLENGE_PURPOSE, request.id, session_id, ttl_seconds=settings.challenge_ttl_seconds
    )


def submit_face(
    actor: Actor,
    token: str,
    user: User,
    frames: list[bytes],
    *,
    challenge_id: str | None,
    session_id: str,
    settings: FaceSettings,
    device: str | None,
) -> FaceVerification:
    row, request, _ = resolve(token, user)
    _open_for_signing(request)
    _require_identity(row, request)
    if not 3 <= len(frames) <= 5:
        raise ValidationFailed(errors={"frames": ["请上传3至5张照片"]})
    challenge = liveness.take_challenge(challenge_id, CHALLENGE_PURPOSE, request.id, session_id)
    keys = []
    for n, data in enumerate(frames):
        stored = storage.store_upload(
            data,
            f"frame{n}.jpg",
            allowed=(storage.JPEG, storage.PNG),
            max_bytes=settings.max_frame_bytes,
            area="faces-tmp",
            field="frames",
        )
        keys.append(stored.storage_key)
    verification = FaceVerification(
        request_id=request.id,
        status="queued",
        challenge_id=challenge.id,
        frame_keys=keys,
        frames=len(keys),
        ip=actor.ip,
        device=(device or "")[:200],
    )
    db.session.add(verification)
    request.status = "verifying"
    db.session.flush()
    enqueue_after_commit(FACE_TASK, verification.id, queue="face")
    return verification


def get_verification(token: str, user: User, verification_id: int) -> FaceVerification:
    _, request, _ = resolve_for_result(token, user)
    verification = db.session.get(FaceVerification, verification_id)
    if verification is None or verification.request_id != request.id:
        raise NotFound("未找到该核验", code="verification_not_found")
    return verification


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


def run_verification(verification_id: int, engine: Any, source: Any, settings: FaceSettings) -> str:
    """The face task. Idempotent: a finished verification is not run again."""
    verification = db.session.scalar(
        select(FaceVerification).where(FaceVerification.id == verification_id).with_for_update()
    )
    if verification is None:
        return "missing"
    if verification.status != "queued":
        return verification.status
    request = db.session.get(AuthorizationRequest, verification.request_id)
    frames = [storage.open_path(k).read_bytes() for k in verification.frame_keys or []]
    reference = source.reference_encoding(request.member_id_number)
    challenge = db.session.get(FaceChallenge, verification.challenge_id) if verification.challenge_id else None
    verdict = liveness.check(
        engine,
        frames,
        reference,
        challenge=challenge,
        id_number=request.member_id_number,
        tolerance=settings.tolerance,
        settings=settings.liveness,
    )
    verification.finished_at = clock.utcnow()
    verification.distance, verification.liveness = verdict.distance, verdict.liveness
    verification.threshold = settings.tolerance
    if verdict.passed:
        verification.status = "passed"
        verification.encoding_encrypted = crypto.encrypt_bytes(np.asarray(verdict.encoding, np.float64).tobytes())
        request.face_passed_at, request.face_verification_id = verification.finished_at, verification.id
        request.status = "verifying"  # face done; the signature completes it
    else:
        verification.status, verification.reason = "failed", verdict.reason
        request.status = "failed"
        request.face_passed_at = request.face_verification_id = None  # a later failure voids an earlier pass
        db.session.flush()
        if verdict.reason != "no_reference" and failures_last_day(request) >= MAX_FAILURES:
            request.status = "locked"
    if settings.retention_seconds <= 0:
        for key in verification.frame_keys or []:
            storage.delete(key)
        verification.frame_keys = []
    return verification.status


# --- signature and evidence --------------------------------------------------------------------------


def _check_signature(data: bytes, max_bytes: int) -> bytes:
    return signatures.check_png(data, max_bytes)


def _chain(app_id: int) -> list[Evidence]:
    return list(
        db.session.scalars(select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence))
    )


def _record_hash(previous: str, sequence: int, payload: dict) -> str:
    body = json.dumps(
        {"previous": previous, "sequence": sequence, "payload": payload}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_application(app_id: int) -> None:
    """Row lock on the application (PostgreSQL ``FOR UPDATE``) until commit: signatures of one application
    are written one after another, so the chain head each reads is the real one."""
    db.session.execute(select(Application.id).where(Application.id == app_id).with_for_update())


def _chain_head(app_id: int) -> Evidence | None:
    return db.session.scalar(
        select(Evidence).where(Evidence.application_id == app_id).order_by(Evidence.sequence.desc()).limit(1)
    )


def append_evidence(app: Application, request: AuthorizationRequest, payload: dict) -> Evidence:
    """Append to the application's chain. The head is read under the application's row lock; the unique
    (application, sequence) constraint refuses a second record at the same place should anything bypass
    the lock: the caller gets a retryable 409, never a forked chain."""
    _lock_application(app.id)
    head = _chain_head(app.id)
    previous = head.record_hash if head else "0" * 64
    sequence = head.sequence + 1 if head else 1
    record_hash = _record_hash(previous, sequence, payload)
    evidence = Evidence(
        application_id=app.id,
        request_id=request.id,
        sequence=sequence,
        payload=payload,
        previous_hash=previous,
        record_hash=record_hash,
        seal=crypto.seal(record_hash),
    )
    try:
        with db.session.begin_nested():
            db.session.add(evidence)
    except IntegrityError:
        raise Conflict(
            "其他家庭成员正在同时授权，请稍后重试", code="evidence_conflict", errors={"retry": ["可以直接重试"]}
        ) from None
    return evidence


def verify_chain(app_id: int) -> list[str]:
    """Problems found in the evidence chain of an application (empty: intact)."""
    problems = []
    previous = "0" * 64
    for n, evidence in enumerate(_chain(app_id), start=1):
        if evidence.sequence != n:
            problems.append(f"record {evidence.id}: sequence {evidence.sequence}, expected {n}")
        if evidence.previous_hash != previous:
            problems.append(f"record {evidence.id}: link to the previous record broken")
        expected = _record_hash(previous, evidence.sequence, evidence.payload)
        if expected != evidence.record_hash:
            problems.append(f"record {evidence.id}: content changed after sealing")
        if crypto.seal(evidence.record_hash) != evidence.seal:
            problems.append(f"record {evidence.id}: seal does not match the server key")
        previous = evidence.record_hash
    return problems


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
    _lock_application(app.id)
    db.session.refresh(row)
    db.session.refresh(request)
    if row.used_at is not None:
        raise Conflict("授权链接已使用", code="authorization_token_used")
    _open_for_signing(request)
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
    _revoke_tokens(request)
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
    return request


def revoke(actor: Actor, user: User, app: Application, request_id: int) -> AuthorizationRequest:
    """Before the data verification starts, a member may withdraw the authorization."""
    from core.casework.models import CaseStep

    member = get_request(app, request_id).member_id_number
    if not (user.id_number and user.id_number == member) and not applications.is_creator(user, app):
        raise NotFound("未找到该成员的授权", code="authorization_not_found")
    request = get_request(app, request_id)
    if app.case_id and db.session.scalar(
        select(CaseStep.id).where(
            CaseStep.case_id == app.case_id, CaseStep.step == "data_check", CaseStep.status == "done"
        )
    ):
        raise Conflict("信息核对已开始，不能撤销授权", code="verification_started")
    if request.status == "revoked":
        raise Conflict("该授权已撤销", code="authorization_revoked")
    request.status, request.revoked_at = "revoked", clock.utcnow()
    _revoke_tokens(request)
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


def signatures_of(app: Application) -> dict[int, Signature]:
    rows = db.session.scalars(
        select(Signature)
        .join(AuthorizationRequest, AuthorizationRequest.id == Signature.request_id)
        .where(AuthorizationRequest.application_id == app.id)
    ).all()
    return {s.request_id: s for s in rows}


def evidence_of(app: Application) -> list[Evidence]:
    return _chain(app.id)
