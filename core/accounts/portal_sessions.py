"""Server-side sessions of the officers' portal.

The browser's cookie carries only a random token; the row keeps its keyed hash, who is logged in,
when, from where, and the session's small data (CSRF secret, flashes, the pending log-in step).
A session ends at log-out, after ``idle_minutes`` without a request, ``absolute_hours`` after it
started whatever the activity, when the officer ends it from another session, and when the
officer's password or TOTP secret is reset. Ended rows are purged by a periodic job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from core import clock, crypto
from core.accounts.models import PortalSession
from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import NotFound

# why a session ended (portal_sessions.revoked_reason)
ENDED_REASONS = (
    "logout",
    "rotated",
    "idle",
    "expired",
    "ended_by_officer",
    "password_reset",
    "password_changed",
    "totp_reset",
)


@dataclass(frozen=True)
class SessionPolicy:
    idle_minutes: int = 30
    absolute_hours: int = 12

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SessionPolicy:
        return cls(
            idle_minutes=int(config["PORTAL_IDLE_TIMEOUT_MINUTES"]),
            absolute_hours=int(config["PORTAL_SESSION_ABSOLUTE_HOURS"]),
        )

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.absolute_hours)


@dataclass(frozen=True)
class Loaded:
    """The outcome of presenting a cookie: the live row, or why an officer's session is over."""

    record: PortalSession | None
    ended: str | None = None  # idle | expired | revoked — only for a session that had an officer


def _hash(token: str) -> str:
    return crypto.token_hash("portal-session:" + token)


def load(token: str | None, policy: SessionPolicy) -> Loaded:
    """The live session for a cookie token. An expired or idle one is ended on the spot."""
    if not token or len(token) > 128:
        return Loaded(None)
    record = db.session.scalar(select(PortalSession).where(PortalSession.token_hash == _hash(token)))
    if record is None:
        return Loaded(None)
    if record.revoked_at is not None:
        return Loaded(None, "revoked" if record.officer_id else None)
    now = clock.utcnow()
    if record.expires_at <= now:
        reason = "expired"
    elif now - record.last_seen_at > policy.idle:
        reason = "idle"
    else:
        return Loaded(record)
    _end(record, reason, now)
    return Loaded(None, reason if record.officer_id else None)


def create(
    *, officer_id: int | None, data: dict, ip: str | None, user_agent: str | None, policy: SessionPolicy
) -> tuple[str, PortalSession]:
    """A new session with a fresh random token; returns the token (for the cookie only) and the row."""
    token = crypto.random_token(32)
    now = clock.utcnow()
    record = PortalSession(
        token_hash=_hash(token),
        officer_id=officer_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        ip=(ip or None) and ip[:45],
        user_agent=(user_agent or None) and user_agent[:300],
        data=data,
    )
    db.session.add(record)
    db.session.flush()
    return token, record


def touch(record_id: int, data: dict | None = None) -> None:
    """Record activity (and new data) on a live session; an ended one stays ended."""
    values: dict[str, Any] = {"last_seen_at": clock.utcnow()}
    if data is not None:
        values["data"] = data
    db.session.execute(
        update(PortalSession)
        .where(PortalSession.id == record_id, PortalSession.revoked_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _end(record: PortalSession, reason: str, now=None) -> None:  # noqa: ANN001 - datetime
    if record.revoked_at is None:
        record.revoked_at = now or clock.utcnow()
        record.revoked_reason = reason
        record.data = {}


def end(record: PortalSession, reason: str) -> None:
    """End one session without an audit entry (rotation at log-in, time-outs)."""
    _end(record, reason)


def logout(actor: Actor, record: PortalSession) -> None:
    _end(record, "logout")
    audit.record(actor, "officer.logout", ("officers", actor.id), region=actor.region_code, session=record.id)


def _is_live(record: PortalSession, policy: SessionPolicy, now) -> bool:  # noqa: ANN001 - datetime
    return record.revoked_at is None and record.expires_at > now and now - record.last_seen_at <= policy.idle


def active_sessions(officer_id: int, policy: SessionPolicy) -> list[PortalSession]:
    """An officer's live sessions, most recently used first."""
    now = clock.utcnow()
    rows = db.session.scalars(
        select(PortalSession)
        .where(
            PortalSession.officer_id == officer_id,
            PortalSession.revoked_at.is_(None),
            PortalSession.expires_at > now,
            PortalSession.last_seen_at >= now - policy.idle,
        )
        .order_by(PortalSession.last_seen_at.desc(), PortalSession.id.desc())
    )
    return list(rows)


def end_other_session(actor: Actor, session_id: int, *, current_id: int | None, policy: SessionPolicy) -> None:
    """The officer ends one of their own other sessions. Anyone else's, or an ended one, is 'not found'."""
    record = db.session.get(PortalSession, session_id)
    now = clock.utcnow()
    if (
        record is None
        or actor.kind != "officer"
        or record.officer_id != actor.id
        or record.id == current_id
        or not _is_live(record, policy, now)
    ):
        raise NotFound("未找到该登录会话，可能已结束", code="session_not_found")
    _end(record, "ended_by_officer", now)
    audit.record(
        actor,
        "officer.session_end",
        ("portal_sessions", record.id),
        region=actor.region_code,
        session_ip=record.ip,
        started=record.created_at.isoformat(),
    )


def end_other_sessions(actor: Actor, *, current_id: int | None, policy: SessionPolicy) -> int:
    """The officer ends every other live session of theirs; returns how many."""
    others = [s for s in active_sessions(actor.id, policy) if s.id != current_id]
    for record in others:
        _end(record, "ended_by_officer")
    if others:
        audit.record(
            actor,
            "officer.sessions_end_others",
            ("officers", actor.id),
            region=actor.region_code,
            count=len(others),
        )
    return len(others)


def revoke_officer_sessions(officer_id: int, reason: str, *, keep_id: int | None = None) -> int:
    """End every open session of an officer (password or TOTP reset); returns how many were open."""
    stmt = (
        update(PortalSession)
        .where(PortalSession.officer_id == officer_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=clock.utcnow(), revoked_reason=reason, data={})
        .execution_options(synchronize_session="fetch")
    )
    if keep_id is not None:
        stmt = stmt.where(PortalSession.id != keep_id)
    return db.session.execute(stmt).rowcount or 0


def purge(policy: SessionPolicy) -> int:
    """Delete ended sessions: revoked, past their absolute expiry, or idle past the time-out."""
    now = clock.utcnow()
    result = db.session.execute(
        delete(PortalSession)
        .where(
            or_(
                PortalSession.revoked_at.is_not(None),
                PortalSession.expires_at <= now,
                PortalSession.last_seen_at < now - policy.idle,
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
