"""What may follow what: the application's status transitions, in one table.

Services move an application with ``move(app, status)``; a transition the table does not list is refused
(``invalid_transition``), so a stray assignment can no longer reopen a decided application."""

from __future__ import annotations

from core.applications.models import FINAL_STATUSES, OPEN_STATUSES, STATUSES, Application
from core.errors import Conflict

_DECIDED = frozenset({"approved", "rejected"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
    "submitted": frozenset({"accepted", "correction_requested", "not_accepted", "withdrawn"}),
    "correction_requested": frozenset({"submitted", "not_accepted", "withdrawn"}),
    "accepted": frozenset({"investigating", "reviewing", "public_notice", "awaiting_confirmation", "withdrawn"})
    | _DECIDED,
    "investigating": frozenset({"reviewing", "public_notice", "awaiting_confirmation", "withdrawn"}) | _DECIDED,
    "reviewing": frozenset({"public_notice", "awaiting_confirmation", "withdrawn"}) | _DECIDED,
    "public_notice": frozenset({"reviewing", "awaiting_confirmation", "withdrawn"}) | _DECIDED,
    "awaiting_confirmation": frozenset({"reviewing", "withdrawn"}) | _DECIDED,
    **{status: frozenset() for status in FINAL_STATUSES},
}
EDITABLE = frozenset({"draft"})
UPLOADS_ALLOWED = frozenset({"draft", "correction_requested"})
WITHDRAWABLE = OPEN_STATUSES
ACCEPTABLE = frozenset({"submitted"})
REFUSABLE = frozenset({"submitted", "correction_requested"})

assert set(TRANSITIONS) == set(STATUSES), "every status needs a row"


def can_move(app: Application, status: str) -> bool:
    return status == app.status or status in TRANSITIONS[app.status]


def move(app: Application, status: str) -> None:
    """Set the status if the table allows it (moving to the same status is a no-op)."""
    if not can_move(app, status):
        raise Conflict(f"申请{STATUSES[app.status]}，不能变为“{STATUSES[status]}”", code="invalid_transition")
    app.status = status
