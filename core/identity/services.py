"""Real-name verification (实名核验).

An account first *claims* a name and ID number; it acts for that number only once a verification with
proof passes: face against the reference portrait of that number, the provincial identity service
(name + number + the account's SMS-proven phone), the platform's verified identity (WeChat), or an officer
at the township window. A passed verification *links* the account to the one ``Identity`` of that number:
a second account verifying the same number joins the same person, never a parallel owner.

Until linked, ``user.id_number`` and ``user.real_name`` stay empty: everything that trusts them (seeing
applications by ID number, authorizing as a household member, submitting) is closed to a mere claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from core import clock
from core.accounts.models import Officer, User
from core.actor import SYSTEM, Actor
from core.audit import services as audit
from core.database import db, enqueue_after_commit
from core.errors import Conflict, NotFound, PermissionDenied, RateLimited, ValidationFailed
from core.files import storage
from core.identity.models import REASONS, Identity, IdentityVerification
from core.identity.providers import IdentityService, PlatformIdentity
from core.idnumber import mask, validate_id_number
from core.liveness import services as liveness
from core.liveness.models import FaceChallenge
from core.notifications import services as outbox

NAME_RE = re.compile(r"^[\u4e00-\u9fa5·•]{2,20}$|^[A-Za-z][A-Za-z .'-]{1,48}[A-Za-z]$")
FACE_TASK = "faces.verify_identity"
CHALLENGE_PURPOSE = "real_name"  # face challenges of real-name verification: subject = the user id
OPEN = ("pending", "verifying")
WINDOW_ROLE = "township_officer"  # who records a verification at the township window
WINDOW_NOTE_MAX = 100  # the officer's note at the window (kept as provider_reference, and as the re-binding reason)


@dataclass(frozen=True)
class IdentitySettings:
    max_failures_per_day: int = 5
    rebind_cooldown_days: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IdentitySettings:
        return cls(
            max_failures_per_day=config["REAL_NAME_MAX_FAILURES_PER_DAY"],
            rebind_cooldown_days=config["REAL_NAME_REBIND_COOLDOWN_DAYS"],
        )


# --- reading -----------------------------------------------------------------------------------------


def is_verified(user: User) -> bool:
    return user.identity_id is not None and bool(user.id_number)


def current_claim(user: User) -> IdentityVerification | None:
    """The account's open claim (pending or being verified), newest first."""
    return db.session.scalar(
        select(IdentityVerification)
        .where(IdentityVerification.user_id == user.id, IdentityVerification.status.in_(OPEN))
        .order_by(IdentityVerification.id.desc())
        .limit(1)
    )


def acting_identity(user: User) -> tuple[str | None, str | None, bool]:
    """(name, ID number, verified) this account fills forms with: its verified identity, else its claim."""
    if is_verified(user):
        return user.real_name, user.id_number, True
    claim = current_claim(user)
    if claim is not None:
        return claim.claimed_name, claim.claimed_id_number, False
    return None, None, False


def linked_logins(user: User) -> list[User]:
    if user.identity_id is None:
        return [user]
    return list(db.session.scalars(select(User).where(User.identity_id == user.identity_id).order_by(User.id)))


@dataclass(frozen=True)
class RealNameState:
    """What the account's owner sees of their real name: unverified | claimed | verifying | verified."""

    status: str
    claim: IdentityVerification | None  # the open claim, if any
    verification: IdentityVerification | None  # the verification that made the current identity


def real_name_state(user: User) -> RealNameState:
    claim = current_claim(user)
    if is_verified(user):
        passed = last_passed(user.id)
        return RealNameState("verified", claim, passed[0] if passed else None)
    if claim is not None:
        return RealNameState("verifying" if claim.status == "verifying" else "claimed", claim, None)
    return RealNameState("unverified", None, None)


def history(identity_id: int | None = None, user_id: int | None = None) -> list[IdentityVerification]:
    stmt = select(IdentityVerification)
    if identity_id is not None and user_id is not None:
        stmt = stmt.where(or_(IdentityVerification.identity_id == identity_id, IdentityVerification.user_id == user_id))
    elif identity_id is not None:
        stmt = stmt.where(IdentityVerification.identity_id == identity_id)
    else:
        stmt = stmt.where(IdentityVerification.user_id == user_id)
    return list(db.session.scalars(stmt.order_by(IdentityVerification.id.desc()).limit(50)))


# --- claiming ----------------------------------------------------------------------------------------


def _validated(name: str, id_number: str) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not NAME_RE.match(name):
        errors["name"] = ["请输入与身份证一致的真实姓名"]
    normalized, id_errors = validate_id_number(id_number)
    if id_errors:
        errors["id_number"] = id_errors
    if errors:
        raise ValidationFailed(errors=errors)
    return name, normalized


def claim(
    actor: Actor, user: User, name: str, id_number: str, *, rebind_reason: str | None, settings: IdentitySettings
) -> IdentityVerification:
    """State the name and ID number to verify. Replaces an earlier open claim of this account.

    A verified account naming another number is a re-binding: it needs a reason, is audited, and the
    account keeps acting for its current identity until the new number is verified."""
    name, number = _validated(name, id_number)
    if is_verified(user):
        if number == user.id_number:
            raise Conflict("您已完成实名核验", code="real_name_already_verified")
        reason = (rebind_reason or "").strip()
        if len(reason) < 4:
            raise ValidationFailed(
                errors={"rebind_reason": ["更换实名身份须说明原因（至少4个字）"]}, code="rebind_reason_required"
            )
        last = db.session.scalar(
            select(func.max(IdentityVerification.finished_at)).where(
                IdentityVerification.user_id == user.id,
                IdentityVerification.status == "passed",
                IdentityVerification.rebind_reason.is_not(None),
            )
        )
        if last is not None and clock.utcnow() - last < timedelta(days=settings.rebind_cooldown_days):
            raise Conflict(
                f"{settings.rebind_cooldown_days}天内只能更换一次实名身份，如有需要请到乡镇（街道）窗口办理",
                code="rebind_too_soon",
            )
    else:
        reason = None
    _supersede_open_claims(user)
    verification = IdentityVerification(
        user_id=user.id,
        claimed_name=name,
        claimed_id_number=number,
        status="pending",
        rebind_reason=reason,
        ip=actor.ip,
    )
    db.session.add(verification)
    db.session.flush()
    audit.record(actor, "identity.claim", user, rebind=bool(reason), id_number=mask(number))
    return verification


def claim_and_verify(
    actor: Actor, user: User, name: str, id_number: str, service: IdentityService, *, settings: IdentitySettings
) -> IdentityVerification:
    """Claim and verify with the identity service in one step (demo data, benchmarks, bulk onboarding)."""
    claim(actor, user, name, id_number, rebind_reason=None, settings=settings)
    return verify_by_service(actor, user, service, settings=settings)


def _supersede_open_claims(user: User) -> None:
    """A new claim (or a window verification) replaces whatever this account had open."""
    for old in db.session.scalars(
        select(IdentityVerification).where(
            IdentityVerification.user_id == user.id, IdentityVerification.status.in_(OPEN)
        )
    ):
        old.status, old.finished_at = "superseded", clock.utcnow()


def _open_claim(user: User) -> IdentityVerification:
    claim_row = current_claim(user)
    if claim_row is None:
        raise Conflict("请先填写姓名和身份证号码", code="real_name_claim_required")
    if claim_row.status == "verifying":
        raise Conflict("正在核验中，请稍候查看结果", code="real_name_verifying")
    return claim_row


def _check_attempts(user: User, settings: IdentitySettings) -> None:
    failed = db.session.scalar(
        select(func.count())
        .select_from(IdentityVerification)
        .where(
            IdentityVerification.user_id == user.id,
            IdentityVerification.status == "failed",
            IdentityVerification.finished_at >= clock.utcnow() - timedelta(days=1),
        )
    )
    if (failed or 0) >= settings.max_failures_per_day:
        raise RateLimited(
            "今日实名核验失败次数过多，请明天再试或到乡镇（街道）窗口核验",
            retry_after=24 * 3600,
            code="real_name_attempts_exceeded",
        )


def _fail(actor: Actor, verification: IdentityVerification, reason: str) -> IdentityVerification:
    verification.status, verification.reason, verification.finished_at = "failed", reason, clock.utcnow()
    audit.record(
        actor, "identity.verify_failed", ("users", verification.user_id), method=verification.method, reason=reason
    )
    # a failed attempt leaves the claim open for another method: a fresh pending copy
    db.session.add(
        IdentityVerification(
            user_id=verification.user_id,
            claimed_name=verification.claimed_name,
            claimed_id_number=verification.claimed_id_number,
            rebind_reason=verification.rebind_reason,
            status="pending",
            ip=verification.ip,
        )
    )
    db.session.flush()
    return verification


# --- methods -----------------------------------------------------------------------------------------


def verify_by_service(
    actor: Actor, user: User, service: IdentityService, *, settings: IdentitySettings
) -> IdentityVerification:
    """Name + ID number + this account's phone against the provincial identity service (synchronous)."""
    verification = _open_claim(user)
    _check_attempts(user, settings)
    if not user.phone:
        raise ValidationFailed(
            errors={"method": ["该方式需要用手机号登录；请用手机号登录或换用人脸核验"]}, code="phone_required"
        )
    result = service.check(verification.claimed_name, verification.claimed_id_number, user.phone)
    verification.method, verification.provider_reference = "id_service", result.reference
    if not result.matched:
        return _fail(actor, verification, result.reason or "mismatch")
    return _complete(actor, verification)


def verify_by_platform(
    actor: Actor, user: User, platform: PlatformIdentity, code: str | None, *, settings: IdentitySettings
) -> IdentityVerification:
    """The WeChat real-name identity of this log-in's openid must match the claim."""
    verification = _open_claim(user)
    _check_attempts(user, settings)
    if not user.wechat_openid:
        raise ValidationFailed(errors={"method": ["该方式需要用微信登录"]}, code="wechat_required")
    result = platform.check(user.wechat_openid, verification.claimed_name, verification.claimed_id_number, code)
    verification.method, verification.provider_reference = "platform", result.reference
    if not result.matched:
        return _fail(actor, verification, result.reason or "not_verified_on_platform")
    return _complete(actor, verification)


def face_challenge(user: User, session_id: str, *, ttl_seconds: int) -> FaceChallenge:
    """A fresh head-turn challenge for this account's next face check, usable only from this log-in session."""
    _open_claim(user)
    return liveness.issue_challenge(CHALLENGE_PURPOSE, user.id, session_id, ttl_seconds=ttl_seconds)


def start_face(
    actor: Actor,
    user: User,
    frames: list[bytes],
    *,
    challenge_id: str,
    session_id: str,
    max_frame_bytes: int,
    settings: IdentitySettings,
) -> IdentityVerification:
    """Frames of the account holder's face, answering a challenge, against the reference portrait of the
    claimed number (checked on the face queue)."""
    verification = _open_claim(user)
    _check_attempts(user, settings)
    challenge = liveness.take_challenge(challenge_id, CHALLENGE_PURPOSE, user.id, session_id)
    keys = liveness.store_frames(frames, max_frame_bytes=max_frame_bytes)
    verification.method, verification.status = "face", "verifying"
    verification.frame_keys, verification.challenge_id = keys, challenge.id
    db.session.flush()
    enqueue_after_commit(FACE_TASK, verification.id, queue="face")
    return verification


def run_face(
    verification_id: int, engine: Any, source: Any, face_settings: Any, liveness_settings: liveness.LivenessSettings
) -> str:
    """The face task: idempotent (a finished verification is not run again)."""
    verification = db.session.scalar(
        select(IdentityVerification).where(IdentityVerification.id == verification_id).with_for_update()
    )
    if verification is None:
        return "missing"
    if verification.status != "verifying":
        return verification.status
    frames = [storage.open_path(k).read_bytes() for k in verification.frame_keys or []]
    reference = source.reference_encoding(verification.claimed_id_number)
    challenge = db.session.get(FaceChallenge, verification.challenge_id) if verification.challenge_id else None
    verdict = liveness.check(
        engine,
        frames,
        reference,
        challenge=challenge,
        id_number=verification.claimed_id_number,
        tolerance=face_settings.tolerance,
        settings=liveness_settings,
    )
    verification.distance, verification.liveness = verdict.distance, verdict.liveness
    if face_settings.retention_seconds <= 0:
        for key in verification.frame_keys or []:
            storage.delete(key)
        verification.frame_keys = []
    if not verdict.passed:
        _fail(SYSTEM, verification, verdict.reason if verdict.reason in REASONS else "face_failed")
        return "failed"
    _complete(SYSTEM, verification)
    return "passed"


def can_verify_at_window(actor: Actor) -> bool:
    return actor.kind == "officer" and WINDOW_ROLE in actor.roles


def verify_at_window(
    actor: Actor, user: User, name: str, id_number: str, *, document_checked: bool, note: str | None
) -> IdentityVerification:
    """An officer saw the person and their ID card at the township window (audited). Township officers
    only: the window is theirs, and an administrator binding log-ins to ID numbers would bypass every other
    check (separation of duties)."""
    if not can_verify_at_window(actor):
        raise PermissionDenied("只有乡镇（街道）经办人员可以记录窗口实名核验", code="window_verification_forbidden")
    name, number = _validated(name, id_number)
    if not document_checked:
        raise ValidationFailed(errors={"document_checked": ["请当面核对居民身份证原件后勾选"]})
    note = (note or "").strip()
    if len(note) > WINDOW_NOTE_MAX:
        raise ValidationFailed(errors={"note": [f"备注不超过{WINDOW_NOTE_MAX}字"]})
    rebind = None
    if is_verified(user) and user.id_number != number:
        rebind = note
        if len(rebind) < 4:
            raise ValidationFailed(errors={"note": ["该账号已实名为其他身份，更换须填写原因"]})
    _supersede_open_claims(user)
    verification = IdentityVerification(
        user_id=user.id,
        claimed_name=name,
        claimed_id_number=number,
        method="window",
        status="verifying",
        officer_id=actor.id,
        rebind_reason=rebind,
        provider_reference=note or None,
        ip=actor.ip,
    )
    db.session.add(verification)
    db.session.flush()
    return _complete(actor, verification)


# --- linking -----------------------------------------------------------------------------------------


def _identity_for(number: str, name: str) -> Identity:
    """The one Identity of this number, created if new; safe against a concurrent creator (unique + lock)."""
    stmt = select(Identity).where(Identity.id_number == number).with_for_update()
    identity = db.session.scalar(stmt)
    if identity is not None:
        return identity
    try:
        with db.session.begin_nested():
            identity = Identity(id_number=number, real_name=name, first_verified_at=clock.utcnow())
            db.session.add(identity)
    except IntegrityError:
        identity = db.session.scalar(stmt)
    return identity


def _complete(actor: Actor, verification: IdentityVerification) -> IdentityVerification:
    user = db.session.scalar(select(User).where(User.id == verification.user_id).with_for_update())
    identity = _identity_for(verification.claimed_id_number, verification.claimed_name)
    previous = user.identity_id
    others = db.session.scalar(
        select(func.count()).select_from(User).where(User.identity_id == identity.id, User.id != user.id)
    )
    now = clock.utcnow()
    verification.status, verification.finished_at, verification.identity_id = "passed", now, identity.id
    user.identity_id = identity.id
    user.id_number, user.real_name, user.real_name_bound_at = identity.id_number, verification.claimed_name, now
    identity.real_name = verification.claimed_name
    audit.record(
        actor,
        "identity.verified",
        user,
        method=verification.method,
        identity_id=identity.id,
        linked_to_existing=bool(others),
        rebind_from=previous if previous and previous != identity.id else None,
        rebind_reason=verification.rebind_reason,
    )
    if others:
        _tell_other_logins(identity, user)
    if previous is None:
        # e.g. drafts made before the first verification become the person's (core.setup.wire registers it);
        # a re-binding moves nothing: what was made for the old identity stays with it
        for listener in _first_verification_listeners.values():
            listener(user, identity)
    db.session.flush()
    return verification


# Areas that attach records to the person when a log-in is first verified register here explicitly
# (core.setup.wire): identity never imports them.
_first_verification_listeners: dict[str, Callable[[User, Identity], object]] = {}


def on_first_verification(name: str, listener: Callable[[User, Identity], object]) -> None:
    _first_verification_listeners[name] = listener


def _tell_other_logins(identity: Identity, new_user: User) -> None:
    """Every other log-in of the person learns that a new one was linked (an SMS to their phones)."""
    phones = db.session.scalars(
        select(User.phone).where(User.identity_id == identity.id, User.id != new_user.id, User.phone.is_not(None))
    ).all()
    for phone in phones:
        outbox.enqueue(
            "sms", phone, "identity_linked", {"when": clock.to_local(clock.utcnow()).strftime("%Y-%m-%d %H:%M")}
        )


def get_verification(user: User, verification_id: int) -> IdentityVerification:
    verification = db.session.get(IdentityVerification, verification_id)
    if verification is None or verification.user_id != user.id:
        raise NotFound("未找到该核验", code="verification_not_found")
    return verification


# --- officers ----------------------------------------------------------------------------------------


@dataclass
class PersonView:
    user: User
    identity: Identity | None
    logins: list[User]
    verifications: list[IdentityVerification]
    officers: dict[int, str]


def person_view(actor: Actor, user: User) -> PersonView:
    """Who verified this account's person, how and when (the officer's identity page; audited)."""
    identity = db.session.get(Identity, user.identity_id) if user.identity_id else None
    rows = history(identity.id if identity else None, user.id)
    officer_ids = {v.officer_id for v in rows if v.officer_id}
    officers = (
        dict(db.session.execute(select(Officer.id, Officer.display_name).where(Officer.id.in_(officer_ids))).all())
        if officer_ids
        else {}
    )
    audit.record(actor, "identity.view", user, region=actor.region_code)
    return PersonView(user, identity, linked_logins(user), rows, officers)


def last_passed(user_id: int | None, identity_id: int | None = None) -> tuple[IdentityVerification, str | None] | None:
    """The latest passed verification of this account (for ``identity_id`` only, when given: the person an
    application was made for, whatever the account was re-bound to since), with the officer's name for
    window ones."""
    stmt = select(IdentityVerification).where(
        IdentityVerification.user_id == user_id, IdentityVerification.status == "passed"
    )
    if identity_id is not None:
        stmt = stmt.where(IdentityVerification.identity_id == identity_id)
    verification = db.session.scalar(stmt.order_by(IdentityVerification.id.desc()).limit(1))
    if verification is None:
        return None
    officer = db.session.get(Officer, verification.officer_id) if verification.officer_id else None
    return verification, officer.display_name if officer else None
