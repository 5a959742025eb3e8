"""Access tokens (JWT, short-lived) and rotating refresh tokens for the mini-program API."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core import clock, crypto
from core.accounts import session_cache
from core.accounts.models import AuthSession, RefreshToken, User
from core.database import db
from core.errors import AuthenticationFailed

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl_days: int


_settings: TokenSettings | None = None
# Access tokens whose signature, algorithm, iss, aud and required claims passed are remembered with their
# claims (``_verify``'s LRU cache; a failure is not cached): the same token string always passes the same way
# under the same secret, so a client's repeated requests skip the HMAC and the JSON decoding. The
# clock-dependent checks (exp, iat, nbf) and the session check run on every request. Emptied when the
# settings change.
MAX_VERIFIED = 20_000


def configure(settings: TokenSettings) -> None:
    global _settings
    _settings = settings
    _verify.cache_clear()


def settings() -> TokenSettings:
    assert _settings is not None, "core.accounts.tokens.configure() not called"
    return _settings


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


def _access_token(user: User, session: AuthSession) -> str:
    s = settings()
    now = clock.utcnow()
    claims = {
        "iss": s.issuer,
        "aud": s.audience,
        "sub": str(user.id),
        "sid": session.id,
        "typ": ACCESS_TYPE,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=s.access_ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, s.secret, algorithm=ALGORITHM, headers={"typ": "JWT"})


def _new_refresh(session: AuthSession) -> str:
    token = crypto.random_token(32)
    db.session.add(
        RefreshToken(
            session_id=session.id,
            token_hash=crypto.token_hash(token),
            expires_at=clock.utcnow() + timedelta(days=settings().refresh_ttl_days),
        )
    )
    return token


def start_session(user: User, *, method: str, ip: str | None, user_agent: str | None) -> TokenPair:
    session = AuthSession(
        id=str(uuid.uuid4()), user_id=user.id, method=method, ip=ip, user_agent=(user_agent or "")[:200]
    )
    db.session.add(session)
    db.session.flush()
    return TokenPair(_access_token(user, session), _new_refresh(session), settings().access_ttl, session.id)


@functools.lru_cache(maxsize=MAX_VERIFIED)
def _verify(token: str) -> dict:
    """Signature, algorithm, iss, aud and the required claims (remembered once passed)."""
    s = settings()
    try:
        claims = jwt.decode(
            token,
            s.secret,
            algorithms=[ALGORITHM],
            audience=s.audience,
            issuer=s.issuer,
            # exp/nbf/iat are checked by decode_access against core.clock (the one source of "now")
            options={
                "require": ["exp", "iat", "sub", "sid", "typ", "iss", "aud"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed("登录凭证无效，请重新登录", code="token_invalid") from exc
    return claims


def decode_access(token: str) -> tuple[User, AuthSession]:
    """Verify an access token: signature, algorithm, iss, aud, typ, expiry, and a live session."""
    claims = _verify(token)
    now = clock.utcnow().timestamp()
    try:
        expires, issued = float(claims["exp"]), float(claims["iat"])
    except (TypeError, ValueError) as exc:
        raise AuthenticationFailed("登录凭证无效，请重新登录", code="token_invalid") from exc
    if expires < now - LEEWAY_SECONDS:
        raise AuthenticationFailed("登录已过期，请重新登录", code="token_expired")
    if issued > now + LEEWAY_SECONDS or float(claims.get("nbf", issued)) > now + LEEWAY_SECONDS:
        raise AuthenticationFailed("登录凭证无效，请重新登录", code="token_invalid")
    if claims.get("typ") != ACCESS_TYPE:
        raise AuthenticationFailed("登录凭证无效，请重新登录", code="token_invalid")
    sid, sub = str(claims["sid"]), str(claims["sub"])
    cached, version = session_cache.lookup(sid, sub)
    if cached is not None:
        return cached  # checked against the database since the user's last change (core.accounts.session_cache)
    row = (
        db.session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == sid)
            .options(joinedload(User.roles))  # one round trip for session, user and reporter roles
        )
        .unique()
        .first()
    )
    if row is None or row[0].revoked_at is not None or str(row[0].user_id) != sub:
        raise AuthenticationFailed("登录已失效，请重新登录", code="session_revoked")
    session, user = row
    if not user.is_active:
        raise AuthenticationFailed("账号不可用", code="account_disabled")
    session_cache.store(version, user, session)
    return user, session


def rotate(refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair. A reused token revokes its whole session."""
    record = db.session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == crypto.token_hash(refresh_token)).with_for_update()
    )
    if record is None:
        raise AuthenticationFailed("登录凭证无效，请重新登录", code="refresh_invalid")
    session = db.session.get(AuthSession, record.session_id)
    now = clock.utcnow()
    if session is None or session.revoked_at is not None:
        raise AuthenticationFailed("登录已失效，请重新登录", code="session_revoked")
    if record.used_at is not None:
        session.revoked_at, session.revoked_reason = now, "refresh_reuse"
        raise AuthenticationFailed("登录凭证已被使用，为安全起见请重新登录", code="refresh_reused", keep_changes=True)
    if record.expires_at <= now:
        raise AuthenticationFailed("登录已过期，请重新登录", code="refresh_expired")
    record.used_at = now
    session.last_refreshed_at = now
    user = db.session.get(User, session.user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailed("账号不可用", code="account_disabled")
    return TokenPair(_access_token(user, session), _new_refresh(session), settings().access_ttl, session.id)


def revoke_session(session: AuthSession, reason: str = "logout") -> None:
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = clock.utcnow(), reason
