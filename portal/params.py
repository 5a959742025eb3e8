"""Numbers from the portal's query strings and forms, bounded to what the database holds.

PostgreSQL refuses a number beyond its column (``NumericValueOutOfRange``) and SQLite cannot bind one
beyond 64 bits: unchecked, ``?page=10**21`` or a forged id in a form was a 500. Here such input is simply
not an id (it matches nothing) or not a page (404).
"""

from __future__ import annotations

import re

from flask import abort

MAX_ID = 2**31 - 1  # integer primary keys (the API's path ids share the bound)
MAX_PAGE = 100_000  # as the API's pagination
_DIGITS = re.compile(r"[0-9]{1,10}")  # ASCII digits only: "²".isdigit() is True, int("²") fails


def id_value(raw: str | None) -> int | None:
    """A database id (1 … 2³¹-1), or None when absent, not a number or beyond the column."""
    raw = (raw or "").strip()
    if not _DIGITS.fullmatch(raw):
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_ID else None


def page_value(raw: str | None) -> int:
    """The page asked for: 1 when absent or not a number; a page beyond ``MAX_PAGE`` does not exist (404)."""
    raw = (raw or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return 1
    if len(raw) > 6 or int(raw) > MAX_PAGE:
        abort(404)
    return max(1, int(raw))
