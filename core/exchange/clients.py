"""Departments and their API clients: register, issue a key, rotate, revoke; authenticate a signed call.

Who manages them: a system administrator anywhere, a city administrator for departments inside their
city. A client's secret is shown once, when issued or rotated; after a rotation the previous secret
keeps working for ``ROTATION_GRACE`` so that a department can switch without an outage.
"""

from __future__ import annotations

import re
import secrets as pysecrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core import access, clock, crypto
from core.actor import Actor
from core.audit import services as audit
from core.database import db
from core.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, SignatureFailed, ValidationFailed
from core.exchange import signing
from core.exchange.models import DEPARTMENT_KINDS, ApiClient, Department, RequestNonce
from core.regions.models import Region

ROTATION_GRACE = timedelta(hours=24)
NONCE_KEEP = timedelta(seconds=2 * signing.MAX_SKEW_SECONDS + 60)  # older nonces fail the clock check anyway
MANAGER_ROLES = ("system_admin", "city_admin")
CODE_RE = re.compile(r"^[a-z0-9_\-]{2,40}$")


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    secret: str  # shown once


def _require_manager(actor: Actor, region_code: str | None = None) -> None:
    if actor.kind != "officer" or not set(MANAGER_ROLES) & set(actor.roles):
        raise PermissionDenied("只有系统管理员或市级管理员可以管理部门接口")
    if region_code is not None and not access.can_see(actor, region_code):
        raise NotFound("未找到该部门", code="department_not_found")


def category_choices() -> list[tuple[str, str]]:
    """(code, name) of the catalogue's data categories: what a client may be scoped to."""
    from core.actor import SYSTEM
    from core.exchange.catalogue import DataCategory, install_defaults  # the catalogue half of this package

    if db.session.scalar(select(DataCategory.id).limit(1)) is None:
        install_defaults(SYSTEM)  # the default categories are installed on first use
    return [(c.code, c.name) for c in db.session.scalars(select(DataCategory).order_by(DataCategory.code))]


def known_categories() -> set[str]:
    return {code for code, _ in category_choices()}


def _clean_categories(values: Iterable[str], errors: dict[str, list[str]]) -> list[str]:
    chosen = sorted({str(v).strip() for v in values or [] if str(v).strip()})
    unknown = [c for c in chosen if c not in known_categories()]
    if unknown:
        errors.setdefault("categories", []).append(f"未知的数据类别：{'、'.join(unknown[:5])}")
    if not chosen:
        errors.setdefault("categories", []).append("请至少选择一个可报送的数据类别")
    return chosen


def list_departments(actor: Actor) -> list[Department]:
    _require_manager(actor)
    stmt = select(Department).order_by(Department.region_code, Department.name)
    scope = access.scope(actor)
    if scope is not None:
        stmt = stmt.where(access.under(actor, Department.region_code))
    return list(db.session.scalars(stmt))


def get_department(actor: Actor, department_id: int) -> Department:
    _require_manager(actor)
    department = db.session.get(Department, department_id)
    if department is None or not access.can_see(actor, department.region_code):
        raise NotFound("未找到该部门", code="department_not_found")
    return department


def create_department(actor: Actor, data: dict[str, Any]) -> Department:
    errors: dict[str, list[str]] = {}
    code = str(data.get("code") or "").strip().lower()
    name = str(data.get("name") or "").strip()
    kind = str(data.get("kind") or "").strip()
    region_code = str(data.get("region_code") or "").strip()
    if not CODE_RE.match(code):
        errors["code"] = ["部门代码须为2-40位小写字母、数字、下划线或连字符"]
    if not 2 <= len(name) <= 100:
        errors["name"] = ["请填写部门名称（2-100字）"]
    if kind not in DEPARTMENT_KINDS:
        errors["kind"] = ["请选择部门类型"]
    if not region_code or db.session.get(Region, region_code) is None:
        errors["region_code"] = ["请选择部门数据覆盖的行政区划"]
    if errors:
        raise ValidationFailed(errors=errors)
    _require_manager(actor, region_code)
    department = Department(code=code, name=name, kind=kind, region_code=region_code)
    db.session.add(department)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict("部门代码已存在", code="department_exists") from exc
    audit.record(actor, "exchange.department.create", department, region=region_code, code=code, kind=kind)
    return department


def _new_key_id(department: Department) -> str:
    return f"{department.code[:24]}-{pysecrets.token_hex(6)}"


def issue_client(actor: Actor, department: Department, data: dict[str, Any]) -> IssuedKey:
    _require_manager(actor, department.region_code)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    algorithm = str(data.get("algorithm") or "hmac-sha256").strip()
    if not 2 <= len(name) <= 100:
        errors["name"] = ["请填写接入系统名称（2-100字）"]
    if algorithm not in signing.ALGORITHMS:
        errors["algorithm"] = ["签名算法须为 hmac-sha256 或 hmac-sm3"]
    categories = _clean_categories(data.get("categories") or [], errors)
    if errors:
        raise ValidationFailed(errors=errors)
    secret = pysecrets.token_urlsafe(32)
    client = ApiClient(
        department_id=department.id,
        key_id=_new_key_id(department),
        name=name,
        algorithm=algorithm,
        secret_enc=crypto.encrypt(secret),
        categories=categories,
        status="active",
    )
    db.session.add(client)
    db.session.flush()
    audit.record(
        actor,
        "exchange.client.issue",
        client,
        region=department.region_code,
        key_id=client.key_id,
        categories=categories,
    )
    return IssuedKey(client, secret)


def get_client(actor: Actor, client_id: int, *, lock: bool = False) -> tuple[ApiClient, Department]:
    _require_manager(actor)
    stmt = select(ApiClient).where(ApiClient.id == client_id)
    if lock:
        stmt = stmt.with_for_update()
    client = db.session.scalar(stmt)
    department = db.session.get(Department, client.department_id) if client else None
    if client is None or department is None or not access.can_see(actor, department.region_code):
        raise NotFound("未找到该接入系统", code="client_not_found")
    return client, department


def clients_of(department: Department) -> list[ApiClient]:
    return list(
        db.session.scalars(select(ApiClient).where(ApiClient.department_id == department.id).order_by(ApiClient.id))
    )


def rotate(actor: Actor, client_id: int) -> IssuedKey:
    client, department = get_client(actor, client_id, lock=True)
    if client.status != "active":
        raise Conflict("该接入系统已吊销，不能更换密钥", code="client_revoked")
    secret = pysecrets.token_urlsafe(32)
    now = clock.utcnow()
    client.previous_secret_enc = client.secret_enc
    client.previous_valid_until = now + ROTATION_GRACE
    client.secret_enc = crypto.encrypt(secret)
    client.rotated_at = now
    audit.record(actor, "exchange.client.rotate", client, region=department.region_code, key_id=client.key_id)
    return IssuedKey(client, secret)


def set_categories(actor: Actor, client_id: int, categories: Iterable[str]) -> ApiClient:
    client, department = get_client(actor, client_id, lock=True)
    errors: dict[str, list[str]] = {}
    chosen = _clean_categories(categories, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    before = list(client.categories or [])
    client.categories = chosen
    audit.record(
        actor,
        "exchange.client.scope",
        client,
        region=department.region_code,
        changes=audit.diff({"categories": before}, {"categories": chosen}),
    )
    return client


def revoke(actor: Actor, client_id: int, reason: str) -> ApiClient:
    client, department = get_client(actor, client_id, lock=True)
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 200:
        raise ValidationFailed(errors={"reason": ["请填写吊销原因（2-200字）"]})
    if client.status == "revoked":
        return client
    client.status = "revoked"
    client.revoked_at = clock.utcnow()
    client.previous_secret_enc = None
    client.previous_valid_until = None
    audit.record(actor, "exchange.client.revoke", client, region=department.region_code, reason=reason)
    return client


# --- authenticating a department's call ----------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    client: ApiClient
    department: Department
    actor: Actor


def department_actor(client: ApiClient, department: Department, *, ip: str | None = None) -> Actor:
    return Actor(kind="department", id=client.id, roles=("department",), region_code=department.region_code, ip=ip)


def authenticate(
    *,
    method: str,
    path: str,
    query: str,
    headers: Any,
    content_digest: bytes | None,
    ip: str | None = None,
) -> Caller:
    """Verify a signed call and spend its nonce. ``content_digest`` is the digest of the body as received
    (``None`` while the body has not been read yet: then only the header is checked, and the caller must
    compare the streamed body's digest with ``Content-Digest`` before using it)."""
    parsed = signing.parse_input(headers.get("Signature-Input"))
    digest_alg, declared = signing.parse_content_digest(headers.get("Content-Digest"))
    if digest_alg != signing.DIGEST_OF[parsed.algorithm]:
        raise SignatureFailed("Content-Digest 的摘要算法与签名算法不一致", code="signature_invalid")
    if content_digest is not None and content_digest != declared:
        raise SignatureFailed("请求体与 Content-Digest 不一致", code="digest_mismatch")
    client = db.session.scalar(select(ApiClient).where(ApiClient.key_id == parsed.key_id))
    department = db.session.get(Department, client.department_id) if client else None
    if client is None or department is None or client.status != "active" or not department.active:
        raise AuthenticationFailed("接入凭证无效或已吊销", code="client_unknown")
    if client.algorithm != parsed.algorithm:
        raise AuthenticationFailed("签名算法与接入系统登记的不一致", code="signature_invalid")
    now = clock.utcnow()
    secrets_ = [crypto.decrypt(client.secret_enc)]
    if client.previous_secret_enc and client.previous_valid_until and client.previous_valid_until > now:
        secrets_.append(crypto.decrypt(client.previous_secret_enc))
    signing.check(
        parsed,
        method=method,
        path=path,
        query=query,
        content_digest=headers.get("Content-Digest").strip(),
        signature_header=headers.get("Signature"),
        secrets=secrets_,
    )
    spend_nonce(client, parsed.nonce)
    client.last_used_at = now
    return Caller(client, department, department_actor(client, department, ip=ip))


def spend_nonce(client: ApiClient, nonce: str) -> None:
    """Record the nonce; its second use fails on the primary key, whatever the timing (no check-then-act).
    The nonce is committed at once, in its own transaction: a replay is refused even when the first
    request later fails."""
    db.session.add(RequestNonce(client_id=client.id, nonce=nonce, seen_at=clock.utcnow()))
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise AuthenticationFailed("该请求已处理过（nonce 重复），请重新签名后发送", code="signature_replayed") from exc


def require_category(caller: Caller, category: str) -> None:
    if category not in (caller.client.categories or []):
        raise PermissionDenied("该接入系统无权报送此类数据", code="category_not_allowed")


def own_load(caller: Caller, load_id: int) -> Any:
    """A load this client delivered (another client's, even of the same department, is 404)."""
    from core.exchange.catalogue import DataLoad

    load = db.session.get(DataLoad, load_id)
    if load is None or load.client_id != caller.client.id:
        raise NotFound("未找到该批次", code="load_not_found")
    return load


def sweep_nonces() -> int:
    """Forget nonces older than the clock window (they fail the timestamp check anyway)."""
    cutoff = clock.utcnow() - NONCE_KEEP
    return db.session.execute(delete(RequestNonce).where(RequestNonce.seen_at < cutoff)).rowcount or 0
