"""Accounts: SMS, WeChat and Alipay log-in for citizens, real-name binding, officers with TOTP."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from core import access, clock, crypto
from core.accounts import portal_sessions, tokens
from core.accounts.alipay import AlipayClient
from core.accounts.models import Officer, SmsCode, User, UserRole, WechatSession
from core.accounts.roles import OFFICER_ROLES, REPORTER_ROLES, officer_region_level
from core.accounts.wechat import WechatClient
from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import AuthenticationFailed, NotFound, PermissionDenied, RateLimited, ValidationFailed
from core.notifications import services as outbox
from core.regions.models import LEVEL_LABELS, Region

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class SmsPolicy:
    ttl_seconds: int = 300
    resend_seconds: int = 60
    daily_limit: int = 10
    max_attempts: int = 5


def validate_phone(phone: str, field: str = "phone") -> str:
    phone = (phone or "").strip()
    if not PHONE_RE.match(phone):
        raise ValidationFailed(errors={field: ["请输入正确的11位手机号码"]})
    return phone


def mask_phone(phone: str | None) -> str | None:
    return (phone[:3] + "****" + phone[-4:]) if phone else None


def send_login_code(phone: str, *, ip: str | None, policy: SmsPolicy) -> str:
    """Create a log-in code and queue its SMS. Returns the code (shown only in development)."""
    phone = validate_phone(phone)
    now = clock.utcnow()
    last = db.session.scalar(select(SmsCode).where(SmsCode.phone == phone).order_by(SmsCode.created_at.desc()).limit(1))
    if last is not None and (now - last.created_at).total_seconds() < policy.resend_seconds:
        wait = policy.resend_seconds - int((now - last.created_at).total_seconds())
        raise RateLimited(f"验证码已发送，请{wait}秒后再试", retry_after=wait, code="sms_too_soon")
    window = (SmsCode.phone == phone, SmsCode.created_at >= now - timedelta(days=1))
    sent_today = db.session.scalar(select(func.count()).select_from(SmsCode).where(*window))
    if sent_today >= policy.daily_limit:
        # a rolling 24 h window: a code may be asked again once enough of the counted ones age out
        frees_up = db.session.scalar(
            select(SmsCode.created_at)
            .where(*window)
            .order_by(SmsCode.created_at)
            .offset(sent_today - policy.daily_limit)
            .limit(1)
        )
        wait = max(int((frees_up + timedelta(days=1) - now).total_seconds()) + 1, 1)
        raise RateLimited(
            f"今日获取验证码次数已达上限，请{clock.wait_text(wait)}后再试", retry_after=wait, code="sms_daily_limit"
        )
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.add(
        SmsCode(
            phone=phone,
            code_hash=crypto.token_hash(f"{phone}:{code}"),
            expires_at=now + timedelta(seconds=policy.ttl_seconds),
            ip=ip,
        )
    )
    outbox.enqueue(
        "sms",
        phone,
        "login_code",
        {"code": code, "minutes": policy.ttl_seconds // 60},
        redact_after_send=("code",),
    )
    return code


def verify_login_code(phone: str, code: str, *, policy: SmsPolicy) -> User:
    """Check a code; on success return the user (created on first log-in)."""
    phone = validate_phone(phone)
    now = clock.utcnow()
    record = db.session.scalar(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.consumed_at.is_(None))
        .order_by(SmsCode.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if record is None or record.expires_at <= now:
        raise AuthenticationFailed("验证码已过期，请重新获取", code="sms_code_expired")
    if record.attempts >= policy.max_attempts:
        raise AuthenticationFailed("验证码错误次数过多，请重新获取", code="sms_code_locked")
    if not secrets.compare_digest(record.code_hash, crypto.token_hash(f"{phone}:{(code or '').strip()}")):
        record.attempts += 1
        left = policy.max_attempts - record.attempts
        message = f"验证码错误，还可尝试{left}次" if left > 0 else "验证码错误次数过多，请重新获取"
        raise AuthenticationFailed(message, code="sms_code_wrong", keep_changes=True)
    record.consumed_at = now
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = User(phone=phone)
        db.session.add(user)
        db.session.flush()
        audit.record(Actor("citizen", user.id), "user.register", user, method="sms")
    if not user.is_active:
        raise AuthenticationFailed("账号不可用", code="account_disabled")
    return user


def wechat_login(code: str, client: WechatClient) -> User:
    if not code or len(code) > 128:
        raise ValidationFailed(errors={"code": ["微信登录凭证不能为空"]})
    identity = client.code_to_session(code)
    user = db.session.scalar(select(User).where(User.wechat_openid == identity.openid))
    if user is None:
        user = User(wechat_openid=identity.openid, wechat_unionid=identity.unionid)
        db.session.add(user)
        db.session.flush()
        audit.record(Actor("citizen", user.id), "user.register", user, method="wechat")
    elif identity.unionid and user.wechat_unionid != identity.unionid:
        user.wechat_unionid = identity.unionid
    if not user.is_active:
        raise AuthenticationFailed("账号不可用", code="account_disabled")
    stored = db.session.get(WechatSession, user.id)
    encrypted = crypto.encrypt(identity.session_key)
    if stored is None:
        db.session.add(WechatSession(user_id=user.id, session_key_encrypted=encrypted))
    else:
        stored.session_key_encrypted, stored.updated_at = encrypted, clock.utcnow()
    return user


def alipay_login(auth_code: str, client: AlipayClient) -> User:
    """Exchange an Alipay auth code for the Alipay user id; the first log-in creates the account bound to it."""
    if not auth_code or len(auth_code) > 128:
        raise ValidationFailed(errors={"auth_code": ["支付宝授权码不能为空"]})
    identity = client.code_to_user(auth_code)
    user = db.session.scalar(select(User).where(User.alipay_user_id == identity.user_id))
    if user is None:
        user = User(alipay_user_id=identity.user_id)
        db.session.add(user)
        db.session.flush()
        audit.record(Actor("citizen", user.id), "user.register", user, method="alipay")
    if not user.is_active:
        raise AuthenticationFailed("账号不可用", code="account_disabled")
    return user


def login_tokens(user: User, *, method: str, actor_ip: str | None, user_agent: str | None) -> tokens.TokenPair:
    pair = tokens.start_session(user, method=method, ip=actor_ip, user_agent=user_agent)
    audit.record(Actor("citizen", user.id, ip=actor_ip), "auth.login", user, method=method)
    return pair


def user_roles(user: User) -> list[dict]:
    """The user's active reporter roles: the ones the token check loaded with the user (no query)."""
    return [{"role": r.role, "label": REPORTER_ROLES[r.role], "region_code": r.region_code} for r in user.roles]


def grant_reporter_role(actor: Actor, user: User, role: str, region_code: str) -> UserRole:
    if role not in REPORTER_ROLES:
        raise ValidationFailed(errors={"role": ["角色不存在"]})
    region = db.session.get(Region, region_code)
    if region is None:
        raise ValidationFailed(errors={"region": [f"行政区划代码 {region_code} 不存在"]})
    if actor.kind == "officer" and not officer_can_see_region(actor, region_code):
        raise PermissionDenied("只能在本辖区内授予角色")
    existing = db.session.scalar(
        select(UserRole).where(UserRole.user_id == user.id, UserRole.role == role, UserRole.revoked_at.is_(None))
    )
    if existing is not None:
        existing.region_code = region_code
        grant = existing
    else:
        grant = UserRole(
            user_id=user.id,
            role=role,
            region_code=region_code,
            granted_by_officer_id=actor.id if actor.kind == "officer" else None,
        )
        db.session.add(grant)
    db.session.flush()
    audit.record(actor, "user.grant_role", user, region=region_code, role=role)
    return grant


# --- officers ------------------------------------------------------------------------------


def officer_can_see_region(actor: Actor, region_code: str) -> bool:
    """An officer's scope is their region and everything below it (core.access)."""
    return access.can_see(actor, region_code)


def create_officer(
    actor: Actor,
    *,
    username: str,
    password: str,
    role: str,
    region_code: str | None,
    display_name: str | None = None,
) -> tuple[Officer, str]:
    """Create an officer; returns the officer and the TOTP secret (shown once)."""
    errors: dict[str, list[str]] = {}
    username = (username or "").strip()
    if not re.match(r"^[A-Za-z0-9_.-]{3,50}$", username):
        errors["username"] = ["用户名为3-50位字母、数字、点、下划线或短横线"]
    elif db.session.scalar(select(Officer).where(Officer.username == username)):
        errors["username"] = ["用户名已存在"]
    errors.update(_password_errors(password))
    if role not in OFFICER_ROLES:
        errors["role"] = ["角色不存在：" + "、".join(OFFICER_ROLES)]
    else:
        level = officer_region_level(role)
        region = db.session.get(Region, region_code) if region_code else None
        if level and (region is None or region.level != level):
            errors["region"] = [f"该角色须绑定一个{LEVEL_LABELS[level]}行政区划"]
    if errors:
        raise ValidationFailed(errors=errors)
    secret = pyotp.random_base32()
    officer = Officer(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        totp_secret_encrypted=crypto.encrypt(secret),
        role=role,
        region_code=region_code if officer_region_level(role) else None,
    )
    db.session.add(officer)
    db.session.flush()
    audit.record(actor, "officer.create", officer, region=officer.region_code, role=role)
    return officer, secret


def _password_errors(password: str | None, field: str = "password") -> dict[str, list[str]]:
    return {field: ["密码至少12位"]} if len(password or "") < 12 else {}


def find_officer_by_username(username: str) -> Officer:
    officer = db.session.scalar(select(Officer).where(Officer.username == (username or "").strip()))
    if officer is None:
        raise NotFound("未找到该用户名的经办人员", code="officer_not_found")
    return officer


def reset_officer_password(actor: Actor, officer: Officer, password: str | None = None) -> tuple[str, int]:
    """Set a new password (given, or generated and then to be changed at the next log-in) and end
    every portal session of the officer. Returns the password and how many sessions were ended."""
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    errors = _password_errors(password)
    if errors:
        raise ValidationFailed(errors=errors)
    officer.password_hash = _hasher.hash(password)
    officer.must_change_password = generated
    officer.failed_logins = 0
    officer.locked_until = None
    ended = portal_sessions.revoke_officer_sessions(officer.id, "password_reset")
    audit.record(
        actor,
        "officer.password_reset",
        officer,
        region=officer.region_code,
        changes={"password_hash": ["***", "***"]},
        generated=generated,
        sessions_ended=ended,
    )
    return password, ended


def reset_officer_totp(actor: Actor, officer: Officer) -> tuple[str, int]:
    """A new TOTP secret (shown once) for an officer who lost their authenticator; ends their sessions."""
    secret = pyotp.random_base32()
    officer.totp_secret_encrypted = crypto.encrypt(secret)
    officer.last_totp_step = None
    ended = portal_sessions.revoke_officer_sessions(officer.id, "totp_reset")
    audit.record(
        actor,
        "officer.totp_reset",
        officer,
        region=officer.region_code,
        changes={"totp_secret_encrypted": ["***", "***"]},
        sessions_ended=ended,
    )
    return secret, ended


def change_own_password(
    actor: Actor,
    officer: Officer,
    current_password: str,
    new_password: str,
    confirm: str,
    *,
    current_session_id: int | None,
) -> int:
    """The officer sets a new password (the current one proves it is them, not a borrowed session);
    their other portal sessions end. Returns how many ended."""
    if actor.kind != "officer" or actor.id != officer.id:
        raise PermissionDenied("只能修改本人的密码")
    try:
        _hasher.verify(officer.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        raise ValidationFailed(errors={"current_password": ["当前密码不正确"]}) from None
    errors = _password_errors(new_password, "new_password")
    if not errors and new_password != confirm:
        errors["confirm"] = ["两次输入的新密码不一致"]
    if not errors:
        try:
            _hasher.verify(officer.password_hash, new_password)
            errors["new_password"] = ["新密码不能与原密码相同"]
        except (VerificationError, InvalidHashError):
            pass
    if errors:
        raise ValidationFailed(errors=errors)
    officer.password_hash = _hasher.hash(new_password)
    officer.must_change_password = False
    ended = portal_sessions.revoke_officer_sessions(officer.id, "password_changed", keep_id=current_session_id)
    audit.record(
        actor,
        "officer.password_change",
        officer,
        region=officer.region_code,
        changes={"password_hash": ["***", "***"]},
        sessions_ended=ended,
    )
    return ended


def officer_totp(officer: Officer) -> pyotp.TOTP:
    return pyotp.TOTP(crypto.decrypt(officer.totp_secret_encrypted))


def locked_message(until: datetime) -> str:
    """The lock-out message with the time it ends (Beijing time; the date too when it is not today)."""
    local = clock.to_local(until)
    when = f"{local:%H:%M}" if local.date() == clock.local_today() else f"{local:%m月%d日 %H:%M}"
    return f"登录失败次数过多，账号已暂时锁定，请于{when}（北京时间）后再试"


def authenticate_officer(
    username: str, password: str, *, ip: str | None, max_failures: int, lockout_minutes: int
) -> Officer:
    """First factor. Failures are counted (the caller keeps them); too many lock the account."""
    generic = "用户名或密码错误"
    officer = db.session.scalar(select(Officer).where(Officer.username == (username or "").strip()))
    now = clock.utcnow()
    if officer is None or not officer.is_active:
        _hasher.hash("timing-equaliser")  # same work as a real check
        raise AuthenticationFailed(generic, code="login_failed")
    if officer.locked_until and officer.locked_until > now:
        raise AuthenticationFailed(locked_message(officer.locked_until), code="account_locked")
    try:
        _hasher.verify(officer.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        if _count_failure(officer, ip, max_failures, lockout_minutes, "password"):
            raise AuthenticationFailed(
                f"{generic}。{locked_message(officer.locked_until)}", code="account_locked", keep_changes=True
            ) from None
        raise AuthenticationFailed(generic, code="login_failed", keep_changes=True) from None
    if _hasher.check_needs_rehash(officer.password_hash):
        officer.password_hash = _hasher.hash(password)
    return officer


def verify_officer_totp(
    officer: Officer, code: str, *, ip: str | None, max_failures: int, lockout_minutes: int
) -> Officer:
    """Second factor; a code is accepted once (replay refused)."""
    now = clock.utcnow()
    if officer.locked_until and officer.locked_until > now:
        raise AuthenticationFailed(locked_message(officer.locked_until), code="account_locked")
    totp = officer_totp(officer)
    code = (code or "").strip()
    matched_step = None
    for offset in (-1, 0, 1):  # one 30-second step of clock drift either way
        at = now + timedelta(seconds=30 * offset)
        if code.isdigit() and secrets.compare_digest(totp.at(at), code):
            matched_step = totp.timecode(at)
            break
    if matched_step is None or (officer.last_totp_step is not None and matched_step <= officer.last_totp_step):
        message = "动态验证码错误或已使用"
        if _count_failure(officer, ip, max_failures, lockout_minutes, "totp"):
            message = f"{message}。{locked_message(officer.locked_until)}"
        raise AuthenticationFailed(message, code="totp_failed", keep_changes=True)
    officer.last_totp_step = matched_step
    officer.failed_logins = 0
    officer.locked_until = None
    officer.last_login_at = now
    audit.record(officer_actor(officer, ip), "officer.login", officer, region=officer.region_code)
    return officer


def _count_failure(officer: Officer, ip: str | None, max_failures: int, lockout_minutes: int, factor: str) -> bool:
    """Count a failed factor; True when this failure locked the account."""
    officer.failed_logins = (officer.failed_logins or 0) + 1
    locked = officer.failed_logins >= max_failures
    if locked:
        officer.locked_until = clock.utcnow() + timedelta(minutes=lockout_minutes)
        officer.failed_logins = 0
    audit.record(
        Actor("officer", officer.id, (officer.role,), officer.region_code, ip=ip),
        "officer.login_failed",
        officer,
        region=officer.region_code,
        factor=factor,
        locked=locked,
    )
    return locked


def officer_actor(officer: Officer, ip: str | None = None, user_agent: str | None = None) -> Actor:
    return Actor("officer", officer.id, (officer.role,), officer.region_code, ip=ip, user_agent=user_agent)


def citizen_actor(user: User, ip: str | None = None, user_agent: str | None = None) -> Actor:
    grants = user.roles  # active grants (loaded with the user by the token check)
    return Actor(
        "citizen",
        user.id,
        ("citizen", *[g.role for g in grants]),
        None,
        role_regions={g.role: g.region_code for g in grants},
        ip=ip,
        user_agent=user_agent,
    )


def get_officer(officer_id: int) -> Officer:
    officer = db.session.get(Officer, officer_id)
    if officer is None or not officer.is_active:
        raise NotFound()
    return officer


def find_user_by_phone(phone: str) -> User:
    user = db.session.scalar(select(User).where(User.phone == validate_phone(phone)))
    if user is None:
        raise NotFound("该手机号尚未注册", code="user_not_found")
    return user


def reporter_grants_in_scope(actor: Actor) -> list[tuple[UserRole, User]]:
    stmt = select(UserRole, User).join(User, User.id == UserRole.user_id).where(UserRole.revoked_at.is_(None))
    stmt = stmt.where(access.under(actor, UserRole.region_code))
    return [(grant, user) for grant, user in db.session.execute(stmt.order_by(UserRole.granted_at.desc())).all()]


def revoke_reporter_role(actor: Actor, grant_id: int) -> UserRole:
    grant = db.session.get(UserRole, grant_id)
    if grant is None or grant.revoked_at is not None or not officer_can_see_region(actor, grant.region_code):
        raise NotFound("未找到该授权")
    grant.revoked_at = clock.utcnow()
    audit.record(actor, "user.revoke_role", ("users", grant.user_id), region=grant.region_code, role=grant.role)
    return grant


def officer_display_names(officer_ids: set[int] | None = None) -> dict[int, str]:
    stmt = select(Officer.id, Officer.display_name)
    if officer_ids is not None:
        stmt = stmt.where(Officer.id.in_(officer_ids))
    return dict(db.session.execute(stmt).all())
