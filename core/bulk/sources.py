"""Where the bulk jobs' inputs come from in production: the current Parquet files of the catalogue
(core.exchange.store.current_paths) and each category's freshness. Tests and the benchmark inject their
own mapping {category: [paths]} instead."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core.database import db
from core.errors import NotFound


def current(categories: Iterable[str]) -> dict[str, list[str]]:
    from core.exchange import store

    out: dict[str, list[str]] = {}
    for code in categories:
        try:
            paths = store.current_paths(code)
        except NotFound:  # the category is not in this deployment's catalogue
            continue
        if paths:
            out[code] = paths
    return out


def freshness(categories: Iterable[str]) -> list[dict[str, Any]]:
    """Per category: its name, the latest effective date, the last load, whether it is overdue."""
    from core.exchange import catalogue

    rows = []
    for code in categories:
        try:
            category = catalogue.get_category(code)
        except NotFound:
            rows.append({"category": code, "name": code, "available": False, "stale": True})
            continue
        f = catalogue.freshness(category)
        rows.append(
            {
                "category": code,
                "name": category.name,
                "available": f.loads > 0,
                "latest_effective_date": f.latest_effective_date.isoformat() if f.latest_effective_date else None,
                "last_load_at": f.last_load_at.isoformat() if f.last_load_at else None,
                "refresh_days": category.refresh_days,
                "stale": bool(f.stale),
                "rows": int(f.rows),
            }
        )
    return rows


def category_names(categories: Iterable[str]) -> dict[str, str]:
    from core.exchange.defaults import DEFAULTS_BY_CODE

    return {c: DEFAULTS_BY_CODE.get(c, {}).get("name", c) for c in categories}


def last_load_finished_at() -> datetime | None:
    """When the latest completed load finished (the anti-fraud job runs again after a new load)."""
    from core.exchange.catalogue import DataLoad

    return db.session.scalar(select(func.max(DataLoad.finished_at)).where(DataLoad.status == "completed"))
