"""The member's face check: a fresh challenge, frames, the face task on the face queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from core import clock, crypto
from core.accounts.models import User
from core.actor import Actor
from core.authorizations.models import (
    AuthorizationRequest,
    AuthorizationToken,
    FaceVerification,
)
from core.authorizations.requests import open_for_signing
from core.authorizations.tokens import resolve, resolve_for_result
from core.database import db, enqueue_after_commit
from core.errors import Conflict, NotFound
from core.files import storage
from core.liveness import services as liveness
from core.liveness.models import FaceChallenge

FACE_TASK = "faces.verify"


MAX_FAILURES = 3


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
    open_for_signing(request)
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
    open_for_signing(request)
    _require_identity(row, request)
    keys = liveness.store_frames(frames, max_frame_bytes=settings.max_frame_bytes)
    challenge = liveness.take_challenge(challenge_id, CHALLENGE_PURPOSE, request.id, session_id)
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
