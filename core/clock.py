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


def wait_text(seconds: int) -> str:
    """A wait in plain Chinese, rounded up: the same number a Retry-After header carries."""
    seconds = max(int(seconds), 1)
    if seconds < 60:
        return f"{seconds}秒"
    if seconds < 3600:
        return f"{-(-seconds // 60)}分钟"
    return f"{-(-seconds // 3600)}小时"
