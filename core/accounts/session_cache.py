"""The token check's hot path: a short-lived in-process copy of a session, its user and the user's roles,
valid only while the user's version in Redis is unchanged.

Every commit that changes a user, one of their roles or one of their sessions (logout, refresh-token
reuse, a role revoked, a real name verified, an account disabled) sets ``rl:auth:v:<user id>`` in Redis to a
new random version after the commit; every request reads that one key (one Redis GET, no SQL) and, when it moved,
loads the rows from the database again. Revocation is therefore immediate across workers and processes.

Correctness first: with no Redis configured (the embedded default) the cache is off and every request
checks the database; when Redis does not answer, the request checks the database too. The in-process
copy also expires after ``ttl`` seconds, which bounds the life of a change made outside the ORM.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from core.accounts.models import AuthSession, User, UserRole
from core.database import db

log = logging.getLogger(__name__)

KEY = "rl:auth:v:{}"
KEY_TTL_SECONDS = 7 * 24 * 3600  # far longer than a cached copy lives
MAX_ENTRIES = 50_000
RETRY_AFTER_SECONDS = 5.0  # after a Redis error, requests go straight to the database this long


@dataclass(frozen=True)
class _Entry:
    user_id: int
    version: bytes
    loaded_at: float
    user: User  # detached templates, never attached to a session themselves
    session: AuthSession
    roles: tuple[UserRole, ...]


class _State:
    redis: Any = None
    ttl: float = 0.0
    down_until: float = 0.0
    entries: dict[str, _Entry] = {}  # noqa: RUF012 - module state, replaced by configure()
    lock = threading.Lock()


def configure(redis_url: str | None, *, ttl_seconds: float = 30.0, socket_timeout: float = 0.5) -> None:
    """Turn the cache on (a Redis URL) or off (None). Called by core.setup and by tests."""
    _State.entries = {}
    _State.down_until = 0.0
    _State.ttl = float(ttl_seconds)
    if not redis_url:
        _State.redis = None
        return
    _State.redis = redis.Redis.from_url(redis_url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout)


def enabled() -> bool:
    return _State.redis is not None and _State.ttl > 0


def clear() -> None:
    _State.entries = {}


def _version(user_id: str) -> bytes | None:
    """The user's current version, or None when Redis does not answer (then nothing is cached)."""
    if time.monotonic() < _State.down_until:
        return None
    key = KEY.format(user_id)
    try:
        value = _State.redis.get(key)
        if value is None:
            # first use, or Redis lost its data: a fresh random version, so that no copy made before matches
            pipe = _State.redis.pipeline(transaction=False)
            pipe.set(key, uuid.uuid4().hex, nx=True, ex=KEY_TTL_SECONDS)
            pipe.get(key)
            value = pipe.execute()[1]
    except redis.RedisError:  # down or slow: the database decides, without asking Redis for a while
        _State.down_until = time.monotonic() + RETRY_AFTER_SECONDS
        log.warning("auth cache: Redis unavailable, checking the database for %s s", RETRY_AFTER_SECONDS)
        return None
    return value


def lookup(session_id: str, user_id: str) -> tuple[tuple[User, AuthSession] | None, bytes | None]:
    """((user, session) attached to the request's session, version) on a hit; (None, version) on a miss.
    The version read is the one a later ``store`` must use (read before the database load)."""
    if not enabled():
        return None, None
    version = _version(user_id)
    if version is None:
        return None, None
    entry = _State.entries.get(session_id)
    if (
        entry is None
        or entry.version != version
        or str(entry.user_id) != user_id
        or time.monotonic() - entry.loaded_at > _State.ttl
    ):
        return None, version
    s = db.session
    user = s.merge(entry.user, load=False)
    session = s.merge(entry.session, load=False)
    set_committed_value(user, "roles", [s.merge(role, load=False) for role in entry.roles])
    return (user, session), version


def _template(obj: Any) -> Any:
    """A detached copy of a freshly loaded row: its column values, no relationships, no history."""
    mapper = inspect(obj).mapper
    copy = mapper.class_manager.new_instance()
    for attr in mapper.column_attrs:
        set_committed_value(copy, attr.key, getattr(obj, attr.key))
    make_transient_to_detached(copy)
    return copy


def store(version: bytes | None, user: User, session: AuthSession) -> None:
    """Remember a session that passed the database check (only when the version was read first)."""
    if version is None or not enabled():
        return
    entry = _Entry(
        user.id,
        version,
        time.monotonic(),
        _template(user),
        _template(session),
        tuple(_template(role) for role in user.roles),
    )
    with _State.lock:
        if len(_State.entries) >= MAX_ENTRIES:
            now = time.monotonic()
            _State.entries = {k: e for k, e in _State.entries.items() if now - e.loaded_at <= _State.ttl}
            if len(_State.entries) >= MAX_ENTRIES:
                _State.entries = {}
        _State.entries[session.id] = entry


def bump(user_ids: set[int]) -> None:
    """Invalidate every cached copy of these users' sessions, in every process."""
    if _State.redis is None or not user_ids:
        return
    try:
        pipe = _State.redis.pipeline(transaction=False)
        for uid in user_ids:
            pipe.set(KEY.format(uid), uuid.uuid4().hex, ex=KEY_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        # this process forgets everything; the others keep their copies until they expire (ttl), unless
        # Redis is down for them too (then they check the database)
        _State.entries = {}
        log.exception("auth cache: could not publish the change of users %s", sorted(user_ids))


def _touched_users(session: Session) -> set[int]:
    users: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User) and obj.id is not None:
            users.add(obj.id)
        elif isinstance(obj, UserRole | AuthSession) and obj.user_id is not None:
            users.add(obj.user_id)
    return users


def install_events() -> None:
    """Publish the version bumps after each commit that changed a user, role or session (once per process)."""
    if getattr(install_events, "_done", False):
        return

    @event.listens_for(Session, "after_flush")
    def _collect(session: Session, flush_context: Any) -> None:
        if _State.redis is None:
            return
        touched = _touched_users(session)
        if touched:
            session.info.setdefault("auth_cache_users", set()).update(touched)

    @event.listens_for(Session, "after_commit")
    def _publish(session: Session) -> None:
        touched = session.info.pop("auth_cache_users", None)
        if touched:
            bump(touched)

    @event.listens_for(Session, "after_soft_rollback")
    def _forget(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop("auth_cache_users", None)

    install_events._done = True  # type: ignore[attr-defined]
