"""Fresh face consent, reusable by any purpose (authorizations, real-name verification by face):
server-issued challenges and the memory of accepted frames that refuses replays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.database import UTCDateTime, db

# The actions a challenge may ask for. Only head turns: the 5-point landmark model (the one free of the
# 68-point model's non-commercial restriction) has no eyelid points, so a blink cannot be measured.
# Directions are the person's own left and right; see core.liveness.services.follows.
ACTIONS = {"turn_left": "向左转头", "turn_right": "向右转头"}
SEQUENCES = (("turn_left", "turn_right"), ("turn_right", "turn_left"))

# Reasons a liveness check adds to the face engine's own (no_face, mismatch, no_liveness, ...).
REASONS = {
    "replay": "照片与以前的核验重复，请按提示实时拍摄",
    "wrong_sequence": "未按提示的顺序转头，请重新获取提示后按顺序缓慢转头",
    "no_challenge": "核验缺少动作提示，请重新获取提示后拍摄",
}


class FaceChallenge(db.Model):
    """One server-issued challenge: a nonce (the id) and a random action sequence, valid for minutes,
    used once, bound to a purpose + subject (e.g. an authorization request) and a device session."""

    __tablename__ = "face_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the nonce: 24 random url-safe characters
    purpose: Mapped[str] = mapped_column(String(20))  # authorization | real_name | ...
    subject_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(36))  # the API access token's session (sid)
    actions: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_face_challenges_purpose_subject", "purpose", "subject_id"),)


class AcceptedFrame(db.Model):
    """A frame of a check that passed, remembered per person by hash only (never the image): its exact
    SHA-256 and a 64-bit perceptual difference hash (dHash, hex). The person key is a keyed hash of the
    ID number, never the number itself."""

    __tablename__ = "face_accepted_frames"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    dhash: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(20))
    challenge_id: Mapped[str | None] = mapped_column(ForeignKey("face_challenges.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    __table_args__ = (UniqueConstraint("person_key", "sha256", name="uq_face_accepted_frames_person_sha256"),)
