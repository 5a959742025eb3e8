"""Region scope: the one place that decides which part of the country an actor's queries reach.

Officers see their region and everything below it (division codes are prefixes: 36 → 3601 → 360124 →
360124100). A system administrator sees everything. **An empty scope sees nothing** — an officer whose region
is missing gets empty lists and 404s, never the whole country. Every list, look-up, export, dashboard and
bulk action builds its WHERE clause here (tests/core/test_access.py enumerates them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import false, true

from core.actor import Actor

ALL_REGIONS_ROLES = frozenset({"system_admin"})


def sees_everything(actor: Actor) -> bool:
    return bool(ALL_REGIONS_ROLES & set(actor.roles))


def scope(actor: Actor) -> str | None:
    """The region code an actor is scoped to (None: nothing, unless ``sees_everything``)."""
    code = (actor.region_code or "").strip()
    return code or None


def can_see(actor: Actor, region_code: str | None) -> bool:
    """Whether a record located in ``region_code`` is inside the actor's scope."""
    if sees_everything(actor):
        return True
    own = scope(actor)
    return bool(own and region_code and region_code.startswith(own))


def under(actor: Actor, column: Any) -> Any:
    """A WHERE clause: ``column`` (a division code) is inside the actor's region."""
    if sees_everything(actor):
        return true()
    own = scope(actor)
    if own is None:
        return false()
    return column.startswith(own, autoescape=True)


def at_level(actor: Actor, columns: Mapping[int, Any]) -> Any:
    """A WHERE clause on denormalised level columns (code length → column, e.g. a case's township, county,
    city and province codes): an equality the indexes serve, instead of a prefix match."""
    if sees_everything(actor):
        return true()
    own = scope(actor)
    column = columns.get(len(own)) if own else None
    if column is None:
        return false()
    return column == own
