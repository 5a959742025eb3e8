from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, pii
from core.database import UTCDateTime, db
from core.faces.models import ENGINE_REASONS
from core.liveness.models import REASONS as LIVENESS_REASONS

METHODS = {
    "face": "人脸核验（与公安人口库照片比对）",
    "id_service": "身份核验服务（姓名、身份证号与本人手机号一致）",
    "platform": "微信/支付宝实名信息",
    "window": "乡镇（街道）窗口现场核验",
}
STATUSES = {
    "pending": "待核验",
    "verifying": "核验中",
    "passed": "已通过",
    "failed": "未通过",
    "superseded": "已被新的核验替代",
}
# Why a method failed. The identity service's "mismatch" (name and number) and the face check's "mismatch"
# (face and portrait) share a code, so the text shown depends on the method (``reason_message``).
SERVICE_REASONS = {
    "mismatch": "姓名、身份证号与核验结果不一致",
    "phone_mismatch": "该手机号不是以本人身份证登记的号码，请换用其他核验方式",
    "not_verified_on_platform": "您的微信账号尚未实名或实名信息与填写的不一致",
}
FACE_METHOD_REASONS = {
    "no_reference": "未找到您的参考照片，请到乡镇（街道）窗口核验",
    "face_failed": "人脸核验未通过",
    # the face engine's and the liveness check's reasons, shown as they are
    **{k: v for k, v in ENGINE_REASONS.items() if k != "no_reference"},
    **LIVENESS_REASONS,
}
REASONS = {**FACE_METHOD_REASONS, **SERVICE_REASONS}  # every code


def reason_message(method: str | None, reason: str | None) -> str | None:
    """The Chinese text of a failed verification's reason, for its method."""
    if not reason:
        return None
    if method == "face":
        return FACE_METHOD_REASONS.get(reason) or REASONS.get(reason)
    return SERVICE_REASONS.get(reason) or REASONS.get(reason)


class Identity(db.Model):
    """A person proven to hold an ID number. One row per ID number; every log-in verified for it links here."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns(nullable=False, unique=True)  # core.pii
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    real_name: Mapped[str] = mapped_column(String(50))
    first_verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class IdentityVerification(db.Model):
    """One attempt by one account to prove a claimed name + ID number, by one method, with its proof."""

    __tablename__ = "identity_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claimed_name: Mapped[str] = mapped_column(String(50))
    claimed_id_number_enc, claimed_id_number_bidx, claimed_id_number_l4 = pii.columns(nullable=False)  # core.pii
    claimed_id_number = pii.encrypted_id("claimed_id_number_enc", "claimed_id_number_bidx", "claimed_id_number_l4")
    method: Mapped[str | None] = mapped_column(String(12))  # METHODS; None while only claimed
    status: Mapped[str] = mapped_column(String(12), default="pending")
    reason: Mapped[str | None] = mapped_column(String(30))
    rebind_reason: Mapped[str | None] = mapped_column(String(200))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    provider_reference: Mapped[str | None] = mapped_column(String(100))
    challenge_id: Mapped[str | None] = mapped_column(String(32), unique=True)  # core.liveness challenge
    frame_keys: Mapped[list | None] = mapped_column(JSON)
    distance: Mapped[float | None] = mapped_column(Float)
    liveness: Mapped[float | None] = mapped_column(Float)
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
