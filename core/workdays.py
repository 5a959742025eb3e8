"""Chinese working days: public holidays and make-up working days count.

``chinese_calendar`` knows the State Council's schedule up to a year (it raises after it).
A deployment extends it with a holiday file (``HOLIDAY_FILE``: lines ``YYYY-MM-DD holiday`` or
``YYYY-MM-DD workday``). For a year neither knows, Monday-Friday is assumed and a warning is
logged; ``is_estimated(day)`` tells callers to say so on screen.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

log = logging.getLogger(__name__)

_extra_holidays: set[date] = set()
_extra_workdays: set[date] = set()
_warned_years: set[int] = set()


def load_holiday_file(path: str | Path | None) -> None:
    _extra_holidays.clear()
    _extra_workdays.clear()
    if not path:
        return
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            day_text, kind = line.split()
            day = date.fromisoformat(day_text)
        except ValueError as exc:
            raise ValueError(f"{path}:{lineno}: expected 'YYYY-MM-DD holiday|workday'") from exc
        if kind == "holiday":
            _extra_holidays.add(day)
        elif kind == "workday":
            _extra_workdays.add(day)
        else:
            raise ValueError(f"{path}:{lineno}: kind must be holiday or workday")


def _file_covers(year: int) -> bool:
    return any(d.year == year for d in _extra_holidays | _extra_workdays)


def is_estimated(day: date) -> bool:
    """True when ``day``'s year is known neither to chinese_calendar nor to the holiday file."""
    try:
        chinese_calendar.is_workday(day)
        return False
    except NotImplementedError:
        return not _file_covers(day.year)


def is_workday(day: date) -> bool:
    if day in _extra_workdays:
        return True
    if day in _extra_holidays:
        return False
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if not _file_covers(day.year) and day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "working days for %s are not known to chinese_calendar nor to HOLIDAY_FILE; assuming Monday-Friday",
                day.year,
            )
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself does not count)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_workday(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if is_workday(current):
            count += 1
    return count


def remaining_working_days(today: date, due: date) -> int:
    """Working days left until ``due`` (0 when due today); negative: working days overdue."""
    if due >= today:
        return working_days_between(today, due)
    return -max(1, working_days_between(due, today))
