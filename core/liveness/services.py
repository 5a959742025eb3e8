"""Fresh face consent for any purpose: issue a challenge, take it once, check frames against it, refuse
replays. Used by electronic authorization (purpose "authorization", subject = the AuthorizationRequest id)
and meant for real-name verification by face (purpose "real_name").

The flow, for a caller:

1. ``issue_challenge(purpose, subject_id, session_id, ttl_seconds=...)`` when the person opens the camera;
   show ``ACTIONS[a]`` for each action of ``challenge.actions``, in order.
2. ``take_challenge(challenge_id, purpose, subject_id, session_id)`` when the frames arrive (in the request:
   single use, under a row lock); store the challenge id with the queued check.
3. ``check(engine, frames, reference, challenge=..., id_number=..., ...)`` in the face task: replay memory,
   identity + still-photo checks of ``core.faces.engine.verify``, the action sequence, and on a pass
   the frames' hashes are remembered for the person.

Directions: a frame is what the camera sensor sees, not the mirrored preview a phone shows. The head-turn
measure is the nose tip projected onto the line from the outer eye corner on the image's left to the one on
the image's right (0 = at the left corner, 0.5 = frontal, 1 = at the right corner). When a person turns the
head to their own left, their nose moves towards the image's right: the measure rises. So ``turn_left``
means the measure rises by at least the turn threshold, ``turn_right`` that it falls by as much.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select, text, update

from core import clock, crypto
from core.database import db
from core.errors import Conflict, NotFound, ValidationFailed
from core.files import storage
from core.liveness.models import ACTIONS, SEQUENCES, AcceptedFrame, FaceChallenge

__all__ = [
    "ACTIONS",
    "LivenessSettings",
    "check",
    "follows",
    "hash_frames",
    "is_replay",
    "issue_challenge",
    "person_key",
    "remember_accepted",
    "take_challenge",
]

PURPOSE_MAX = 20


@dataclass(frozen=True)
class LivenessSettings:
    challenge_ttl_seconds: int = 180
    turn_threshold: float = 0.15
    replay_max_distance: int = 3  # Hamming distance (of 64 bits) at which a frame counts as seen before

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LivenessSettings:
        return cls(
            challenge_ttl_seconds=config["FACE_CHALLENGE_TTL_SECONDS"],
            turn_threshold=config["FACE_TURN_THRESHOLD"],
            replay_max_distance=config["FACE_REPLAY_MAX_DISTANCE"],
        )


# --- challenges ---------------------------------------------------------------------------------------


def random_actions() -> list[str]:
    """Turn one way, then the other, in a random order (two sequences: a weak challenge, see docs)."""
    return list(secrets.choice(SEQUENCES))


def issue_challenge(purpose: str, subject_id: str | int, session_id: str, *, ttl_seconds: int) -> FaceChallenge:
    """A new challenge for ``purpose``/``subject_id``, usable only from ``session_id``, for ``ttl_seconds``."""
    if not purpose or len(purpose) > PURPOSE_MAX or not session_id:
        raise ValueError("a challenge needs a purpose (<= 20 characters) and a session")
    now = clock.utcnow()
    challenge = FaceChallenge(
        id=crypto.random_token(18),  # 24 characters, 144 random bits: the nonce
        purpose=purpose,
        subject_id=str(subject_id),
        session_id=session_id,
        actions=random_actions(),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    db.session.add(challenge)
    db.session.flush()
    return challenge


def take_challenge(challenge_id: str | None, purpose: str, subject_id: str | int, session_id: str) -> FaceChallenge:
    """Consume a challenge once. Refused (404) when it is unknown or bound to another purpose, subject or
    session; 409 when expired or already used. Concurrent takes: the row is locked (``FOR UPDATE``) and
    the consuming UPDATE is conditional on ``used_at IS NULL``, so exactly one caller gets it."""
    if not challenge_id:
        raise ValidationFailed(errors={"challenge_id": ["请先获取动作提示"]}, code="challenge_required")
    challenge = db.session.scalar(
        select(FaceChallenge)
        .where(FaceChallenge.id == challenge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        challenge is None
        or challenge.purpose != purpose
        or challenge.subject_id != str(subject_id)
        or not secrets.compare_digest(challenge.session_id, session_id or "")
    ):
        raise NotFound("动作提示无效，请重新获取", code="challenge_invalid")
    now = clock.utcnow()
    if challenge.used_at is not None:
        raise Conflict("动作提示已使用，请重新获取", code="challenge_used")
    if challenge.expires_at <= now:
        raise Conflict("动作提示已过期，请重新获取后在规定时间内拍摄", code="challenge_expired")
    taken = db.session.execute(
        update(FaceChallenge)
        .where(FaceChallenge.id == challenge.id, FaceChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise Conflict("动作提示已使用，请重新获取", code="challenge_used")
    challenge.used_at = now
    db.session.flush()
    return challenge


# --- the action sequence ------------------------------------------------------------------------------


def follows(turns: Sequence[float | None], actions: Sequence[str], threshold: float) -> bool:
    """Do the head-turn measures, in frame order, perform ``actions`` in order?

    Each action needs a move of at least ``threshold`` in its direction (``turn_left``: the measure rises,
    ``turn_right``: it falls), measured from the furthest point reached the other way since the previous
    action was done. Frames without a measure are skipped."""
    values = [t for t in turns if t is not None]
    if not values:
        return False
    anchor, i = values[0], 0
    for action in actions:
        sign = 1.0 if action == "turn_left" else -1.0
        while True:
            i += 1
            if i >= len(values):
                return False
            moved = (values[i] - anchor) * sign
            if moved >= threshold:
                anchor = values[i]
                break
            if moved < 0:
                anchor = values[i]  # went the other way: count from the new extreme
    return True


# --- replay memory ------------------------------------------------------------------------------------


def person_key(id_number: str) -> str:
    """Keyed hash of an ID number (HMAC with the server key): the replay memory never holds the number."""
    return crypto.token_hash(f"face-person:{id_number}")


@dataclass(frozen=True)
class FrameHash:
    sha256: str
    dhash: str  # 64-bit difference hash, hex
    mirrored: str  # the same of the mirror image: a mirrored replay answers the opposite challenge


def _dhashes(image: Image.Image) -> tuple[str, str]:
    """The 64-bit difference hash of the image and of its mirror image (``imagehash.dhash``'s, bit for bit:
    the mirror of the 9 x 8 grey thumbnail is the thumbnail of the mirror), from one grey resize."""
    import imagehash

    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS))
    mirrored = small[:, ::-1]
    return str(imagehash.ImageHash(small[:, 1:] > small[:, :-1])), str(
        imagehash.ImageHash(mirrored[:, 1:] > mirrored[:, :-1])
    )


def hash_frames(frames: Iterable[bytes], pixels: Sequence[Any] | None = None) -> list[FrameHash]:
    """Hashes of each frame; the perceptual hash is taken from the frame as the face check decodes it (EXIF
    orientation, at most 640 px: ``core.faces.engine.decode``), or from ``pixels`` when that decode was done
    already. Raises ValueError for an undecodable frame."""
    frames = list(frames)
    if pixels is None:
        from core.faces.engine import decode

        pixels = decode(frames)
    out = []
    for data, frame in zip(frames, pixels, strict=True):
        dhash, mirrored = _dhashes(Image.fromarray(frame))
        out.append(FrameHash(hashlib.sha256(data).hexdigest(), dhash, mirrored))
    return out


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def is_replay(key: str, hashes: Sequence[FrameHash], max_distance: int) -> bool:
    """Does any frame (or its mirror image) match a frame of an earlier accepted check of this person:
    the same bytes, or a perceptual hash within ``max_distance`` bits (re-encoded, rescaled, brightened)?"""
    seen = db.session.execute(select(AcceptedFrame.sha256, AcceptedFrame.dhash).where(AcceptedFrame.person_key == key))
    seen = list(seen)
    exact = {row.sha256 for row in seen}
    for frame in hashes:
        if frame.sha256 in exact:
            return True
        for row in seen:
            if min(_distance(frame.dhash, row.dhash), _distance(frame.mirrored, row.dhash)) <= max_distance:
                return True
    return False


def remember_accepted(key: str, hashes: Sequence[FrameHash], *, purpose: str, challenge_id: str | None) -> None:
    known = set(db.session.scalars(select(AcceptedFrame.sha256).where(AcceptedFrame.person_key == key)))
    for frame in hashes:
        if frame.sha256 not in known:
            known.add(frame.sha256)
            db.session.add(
                AcceptedFrame(
                    person_key=key, sha256=frame.sha256, dhash=frame.dhash, purpose=purpose, challenge_id=challenge_id
                )
            )
    db.session.flush()


def lock_person(key: str) -> None:
    """Serialize checks of one person until commit (PostgreSQL advisory lock), so that two concurrent
    checks with the same frames cannot both pass the replay memory. SQLite serializes writers anyway."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})


# --- the whole check ----------------------------------------------------------------------------------


def check(
    engine: Any,
    frames: list[bytes],
    reference: Any,
    *,
    challenge: FaceChallenge | None,
    id_number: str,
    tolerance: float,
    settings: LivenessSettings,
) -> Any:
    """Check frames of a taken challenge against the person's reference encoding; returns a
    ``core.faces.engine.Verdict`` whose reason is one of the engine's or ``REASONS``.

    Order: no reference, no challenge, undecodable frame, replay (cheap, before the engine), then the
    engine (faces, identity, still photo, enough turn), then the action sequence. On a pass the frames'
    hashes are remembered for the person (caller commits)."""
    from core.faces.engine import Verdict, decode, verify

    if reference is None:
        return Verdict(False, "no_reference")
    if challenge is None:
        return Verdict(False, "no_challenge")
    key = person_key(id_number)
    lock_person(key)
    try:
        pixels = decode(frames)  # once, for the hashes and the face check
    except ValueError:
        return Verdict(False, "bad_image")
    hashes = hash_frames(frames, pixels)
    if is_replay(key, hashes, settings.replay_max_distance):
        return Verdict(False, "replay")
    verdict = verify(
        engine, frames, reference, tolerance=tolerance, turn_threshold=settings.turn_threshold, pixels=pixels
    )
    if not verdict.passed:
        return verdict
    if not follows([f.turn for f in verdict.frames], challenge.actions, settings.turn_threshold):
        return Verdict(
            False, "wrong_sequence", distance=verdict.distance, liveness=verdict.liveness, frames=verdict.frames
        )
    remember_accepted(key, hashes, purpose=challenge.purpose, challenge_id=challenge.id)
    return verdict


def store_frames(frames: list[bytes], *, max_frame_bytes: int) -> list[str]:
    """Check (3-5 JPEG/PNG frames) and keep the frames of a face check until the face task has run; returns
    their storage keys. The raw frames are deleted after the check unless the configuration retains them."""
    if not 3 <= len(frames) <= 5:
        raise ValidationFailed(errors={"frames": ["请上传3至5张照片"]})
    keys = []
    for n, data in enumerate(frames):
        stored = storage.store_upload(
            data,
            f"frame{n}.jpg",
            allowed=(storage.JPEG, storage.PNG),
            max_bytes=max_frame_bytes,
            area="faces-tmp",
            field="frames",
        )
        keys.append(stored.storage_key)
    return keys
