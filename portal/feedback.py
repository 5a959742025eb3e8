"""How portal forms report the outcome of a service call: one pattern for every action."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect

from core.database import commit, rollback
from core.errors import DomainError


def flash_error(err: DomainError) -> None:
    """A domain error as a flash message (field-level messages joined, in Chinese)."""
    flash(err.message if not err.errors else "；".join(m for v in err.errors.values() for m in v), "error")


def act(action: Callable[[], object], success: str, *, on_error: Callable[[int], object], done_url: str):
    """Run ``action``; on a domain error re-render (``on_error(status)``), else flash and redirect."""
    try:
        action()
    except DomainError as err:
        # the page re-rendered below must show the stored state (versions included), not the refused change
        if err.keep_changes:
            commit()
        else:
            rollback()
        flash_error(err)
        return on_error(err.status)
    flash(success, "info")
    return redirect(done_url)
