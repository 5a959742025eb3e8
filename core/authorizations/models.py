from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db
from core.faces.models import ENGINE_REASONS
from core.liveness.models import REASONS as LIVENESS_REASONS

STATUSES = {
    "pending": "待授权",
    "verifying": "核验中",
    "authorized": "已授权",
    "failed": "核验未通过",
    "locked": "已锁定，请到乡镇（街道）窗口办理",
    "revoked": "已撤销",
    "offline": "窗口授权",
}
METHODS = {"same_phone": "本机授权（一部手机多人授权）", "qr": "扫码授权", "window": "窗口授权"}
FACE_REASONS = {
    **ENGINE_REASONS,  # no_face, many_faces, mismatch, no_liveness, no_reference, bad_image
    **LIVENESS_REASONS,  # replay, wrong_sequence, no_challenge
}


class AuthorizationRequest(db.Model):
    """One adult household member's authorization of the economic check, for one application."""

    __tablename__ = "authorization_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    member_name: Mapped[str] = mapped_column(String(50))
    member_id_number_enc, member_id_number_bidx, member_id_number_l4 = pii.columns(nullable=False)  # core.pii
    member_id_number = pii.encrypted_id("member_id_number_enc", "member_id_number_bidx", "member_id_number_l4")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)  # core.registry
    letter_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    method: Mapped[str | None] = mapped_column(String(12))
    identity_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    face_passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    face_verification_id: Mapped[int | None] = mapped_column(Integer)
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it once
    __table_args__ = (Index("ix_authorization_requests_app_member", "application_id", "member_id_number_bidx"),)


class AuthorizationToken(db.Model):
    """A QR link or a same-phone hand-over; stored as a keyed hash, single use, expiring, revocable."""

    __tablename__ = "authorization_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("authorization_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # qr | handover
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaceVerification(db.Model):
    __tablename__ = "face_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("authorization_requests.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued | passed | failed
    reason: Mapped[str | None] = mapped_column(String(20))
    # the challenge the frames answer (single use: one verification per challenge)
    challenge_id: Mapped[str | None] = mapped_column(ForeignKey("face_challenges.id"), unique=True)
    frame_keys: Mapped[list | None] = mapped_column(JSON)  # deleted after the check (retention 0 by default)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    distance: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    liveness: Mapped[float | None] = mapped_column(Float)  # head-turn range of the nose on the eye line
    encoding_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    ip: Mapped[str | None] = mapped_column(String(45))
    device: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Signature(db.Model):
    __tablename__ = "authorization_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("authorization_requests.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class Evidence(db.Model):
    """The proof of one authorization, hash-chained per application and sealed with a server key."""

    __tablename__ = "authorization_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("authorization_requests.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    # one record per place in the chain: two concurrent appends cannot both take the same sequence
    __table_args__ = (UniqueConstraint("application_id", "sequence", name="uq_authorization_evidence_app_sequence"),)
