"""One-line auditing for services: ``audit.record(actor, "case.open", case, region=...)``."""

from __future__ import annotations

from typing import Any

from core.actor import Actor
from core.audit.models import AuditEntry
from core.database import db

# Never store these values in the audit trail, only that they changed.
REDACTED_FIELDS = frozenset({"password_hash", "totp_secret_encrypted", "session_key_encrypted", "code_hash"})


def _target_ref(target: Any) -> tuple[str | None, str | None]:
    if target is None:
        return None, None
    if isinstance(target, tuple):
        return target[0], str(target[1])
    table = getattr(target, "__tablename__", type(target).__name__)
    mapper_pk = getattr(target, "id", None) or getattr(target, "code", None)
    return table, str(mapper_pk) if mapper_pk is not None else None


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    changes = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            if key in REDACTED_FIELDS:
                old, new = "***", "***"
            changes[key] = [_jsonable(old), _jsonable(new)]
    return changes


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def record(
    actor: Actor,
    action: str,
    target: Any = None,
    *,
    region: str | None = None,
    changes: dict | None = None,
    **detail: Any,
) -> AuditEntry:
    target_type, target_id = _target_ref(target)
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_role=actor.primary_role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        region_code=region,
        ip=actor.ip,
        changes=changes or None,
        detail={k: _jsonable(v) for k, v in detail.items()} or None,
    )
    db.session.add(entry)
    return entry
