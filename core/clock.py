"""The one source of 'now'. Tests move time with ``set_offset`` instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_offset = timedelta(0)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def local_today():  # noqa: ANN201 - returns datetime.date
    """Today's date in Asia/Shanghai, where deadlines are counted."""
    return utcnow().astimezone(SHANGHAI).date()


def set_offset(delta: timedelta) -> None:
    """Shift the clock (tests and demo only)."""
    global _offset
    _offset = delta


def to_local(value: datetime) -> datetime:
    return value.astimezone(SHANGHAI)
