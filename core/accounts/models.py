from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock, pii
from core.database import UTCDateTime, db


class User(db.Model):
    """A mini-program user: citizen, proxy or reporter (log-in by phone, WeChat or Alipay)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    alipay_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # Alipay log-in (core/accounts/alipay)
    real_name: Mapped[str | None] = mapped_column(String(50))
    # The ID number is stored encrypted with keyed blind indexes (core.pii); ``id_number`` reads and writes it.
    id_number_enc, id_number_bidx, id_number_l4 = pii.columns()
    id_number = pii.encrypted_id("id_number_enc", "id_number_bidx", "id_number_l4")
    real_name_bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # verified at
    # The verified person this log-in acts for (core.identity); real_name/id_number mirror it and are set
    # only by core.identity.services.link: an unverified account has neither.
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        primaryjoin="and_(User.id == UserRole.user_id, UserRole.revoked_at.is_(None))",
        viewonly=True,
    )


class UserRole(db.Model):
    """A reporter role (grid_worker, volunteer, ...) granted to a user by an officer, scoped to a region."""

    __tablename__ = "user_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    granted_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])


class SmsCode(db.Model):
    __tablename__ = "sms_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_sms_codes_phone_created_at", "phone", "created_at"),)


class AuthSession(db.Model):
    """One log-in on one device. Access tokens carry its id (``sid``); logout revokes it."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))  # sms | wechat | alipay
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    last_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(30))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class RefreshToken(db.Model):
    """Rotating refresh tokens, stored as keyed hashes. Reuse of a used one revokes the session."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WechatSession(db.Model):
    """The WeChat ``session_key`` for a user, encrypted; it never leaves the server."""

    __tablename__ = "wechat_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    session_key_encrypted: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)


class Officer(db.Model):
    """A portal user: township/county officer or administrator."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_encrypted: Mapped[str] = mapped_column(String(255))
    last_totp_step: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(30))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # set by a generated (one-time) password reset: the portal asks for a new password after log-in
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    # Where the daily digest goes (core.accounts.digest): portal inbox, SMS to the work phone,
    # or a WeChat subscription message to the bound openid.
    digest_channel: Mapped[str] = mapped_column(String(10), default="inbox", server_default="inbox")
    phone: Mapped[str | None] = mapped_column(String(20))
    wechat_openid: Mapped[str | None] = mapped_column(String(64))


class PortalSession(db.Model):
    """A server-side portal session. The browser's cookie holds only a random token; this row keeps
    its keyed hash. Anonymous (before log-in) sessions have no officer; log-in replaces the row."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # absolute lifetime
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(30))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
