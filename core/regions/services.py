"""Region look-ups and the bulk import of the national division codes."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.database import db
from core.errors import NotFound, ValidationFailed
from core.regions.demo_data import DEMO_REGIONS
from core.regions.models import CODE_LENGTH, LEVELS, Region

log = logging.getLogger(__name__)

BATCH_SIZE = 5000


# --- the in-process cache of region facts ----------------------------------------------------------
# Regions change only when the division codes are imported: the hot paths (submit's validation, routing,
# township names) read their code, name, level and parent from this process's memory. A copy lives at most
# CACHE_TTL_SECONDS (an import by another process is seen within that time; this process's imports clear
# it at once). A code not found is never cached (it may be imported next).
CACHE_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class RegionFacts:
    code: str
    name: str
    level: str
    parent_code: str | None


class _Cache:
    facts: dict[str, tuple[float, RegionFacts]] = {}  # noqa: RUF012 - replaced by clear_cache()


def clear_cache() -> None:
    _Cache.facts = {}


@event.listens_for(Region, "after_insert")
@event.listens_for(Region, "after_update")
@event.listens_for(Region, "after_delete")
def _region_written(mapper: object, connection: object, target: Region) -> None:
    clear_cache()


def facts(codes: Iterable[str]) -> dict[str, RegionFacts]:
    """The known regions among ``codes`` (one query for those not cached, none when all are)."""
    now = time.monotonic()
    found: dict[str, RegionFacts] = {}
    missing = []
    for code in set(codes):
        if not code:
            continue
        hit = _Cache.facts.get(code)
        if hit is not None and now - hit[0] <= CACHE_TTL_SECONDS:
            found[code] = hit[1]
        else:
            missing.append(code)
    if missing:
        rows = db.session.execute(
            select(Region.code, Region.name, Region.level, Region.parent_code).where(Region.code.in_(missing))
        ).all()
        for row in rows:
            fact = RegionFacts(row.code, row.name, row.level, row.parent_code)
            _Cache.facts[row.code] = (now, fact)
            found[row.code] = fact
    return found


def region_facts(code: str) -> RegionFacts | None:
    return facts([code]).get(code) if code else None


def get_region(code: str) -> Region:
    region = db.session.get(Region, code)
    if region is None:
        raise NotFound(f"未找到行政区划代码 {code}", code="region_not_found")
    return region


def ancestor_codes(code: str) -> list[str]:
    """Codes of the levels above ``code``, outermost first (by the code's prefixes)."""
    return [code[:n] for n in (2, 4, 6, 9) if n < len(code)]


def get_ancestors(region: Region) -> list[Region]:
    codes = ancestor_codes(region.code)
    if not codes:
        return []
    rows = db.session.scalars(select(Region).where(Region.code.in_(codes))).all()
    return sorted(rows, key=lambda r: len(r.code))


def list_children(parent_code: str | None) -> list[Region]:
    if parent_code is None:
        stmt = select(Region).where(Region.parent_code.is_(None))
    else:
        get_region(parent_code)
        stmt = select(Region).where(Region.parent_code == parent_code)
    return list(db.session.scalars(stmt.order_by(Region.code)))


def search(query: str, *, level: str | None = None, within: str | None = None, limit: int = 50) -> list[Region]:
    query = query.strip()
    if not query:
        raise ValidationFailed(errors={"q": ["请输入要搜索的地名"]})
    stmt = select(Region).where(Region.name.contains(query, autoescape=True))
    if level:
        stmt = stmt.where(Region.level == level)
    if within:
        stmt = stmt.where(Region.code.startswith(within, autoescape=True))
    stmt = stmt.order_by(func.length(Region.code), Region.code).limit(limit)
    return list(db.session.scalars(stmt))


def require_level(code: str, level: str, field: str) -> RegionFacts:
    """The region ``code`` must exist and be at ``level``; else a field error."""
    region = region_facts(code)
    if region is None:
        raise ValidationFailed(errors={field: [f"行政区划代码 {code} 不存在"]})
    if region.level != level:
        raise ValidationFailed(errors={field: [f"{region.name}不是乡镇（街道）级区划"]})
    return region


def count_by_level() -> dict[str, int]:
    rows = db.session.execute(select(Region.level, func.count()).group_by(Region.level)).all()
    counts = dict.fromkeys(LEVELS, 0)
    counts.update({level: n for level, n in rows})
    return counts


# --- import --------------------------------------------------------------------------------

FILES = (
    ("province", "provinces.csv", None),
    ("city", "cities.csv", "province_code"),
    ("county", "counties.csv", "city_code"),
    ("township", "townships.csv", "county_code"),
    ("village", "villages.csv", "township_code"),
)


@dataclass
class ImportResult:
    read: int = 0
    written: int = 0  # inserted or changed

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "written": self.written}


def _read_csv(path: Path, level: str, parent_column: str | None) -> Iterator[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.DictReader(fh), start=2):
            code = (row.get("code") or "").strip()
            name = (row.get("name") or "").strip()
            if not code.isdigit() or len(code) != CODE_LENGTH[level] or not name:
                raise ValueError(f"{path.name}:{lineno}: bad row {row!r}")
            parent = row[parent_column].strip() if parent_column else None
            yield {"code": code, "name": name, "level": level, "parent_code": parent}


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def upsert_regions(rows: list[dict]) -> int:
    """Insert or update a batch in one statement; returns how many rows changed."""
    clear_cache()
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Region.__table__)
    excluded = stmt.excluded
    table = Region.__table__.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"],
        set_={"name": excluded.name, "level": excluded.level, "parent_code": excluded.parent_code},
        where=(table.name != excluded.name)
        | (table.level != excluded.level)
        | (table.parent_code.is_distinct_from(excluded.parent_code)),
    )
    written = 0
    # One multi-row VALUES statement per batch: set-based, not row by row.
    for chunk in _batches(rows, 1000 if dialect == "sqlite" else BATCH_SIZE):
        # RETURNING counts the rows really inserted or changed (rowcount is not reliable
        # for multi-row statements on every driver).
        written += len(db.session.execute(stmt.values(chunk).returning(Region.__table__.c.code)).all())
    return written


def import_directory(
    directory: Path,
    *,
    with_villages: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Load the CSV layout of ``data/regions`` (upper levels first), idempotently.

    ``progress(level, n)`` is called after each batch. The caller commits.
    """
    results: dict[str, dict[str, int]] = {}
    for level, filename, parent_column in FILES:
        if level == "village" and not with_villages:
            continue
        path = directory / filename
        if not path.exists():
            if level == "village":
                continue
            raise FileNotFoundError(f"{path} not found")
        result = ImportResult()
        for batch in _batches(_read_csv(path, level, parent_column), BATCH_SIZE):
            result.read += len(batch)
            result.written += upsert_regions(batch)
            if progress:
                progress(level, len(batch))
        db.session.flush()
        results[level] = result.as_dict()
        log.info("regions import %s: %s", level, results[level])
    return results


def count_csv_rows(directory: Path, *, with_villages: bool = False) -> dict[str, int]:
    counts = {}
    for level, filename, _ in FILES:
        if level == "village" and not with_villages:
            continue
        path = directory / filename
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                counts[level] = sum(1 for _ in fh) - 1
    return counts


def load_demo_regions() -> int:
    rows = [{"code": c, "name": n, "level": level, "parent_code": p} for c, n, level, p in DEMO_REGIONS]
    return upsert_regions(rows)


def names_for(codes: Iterable[str]) -> dict[str, str]:
    codes = set(codes)
    if not codes:
        return {}
    return {code: fact.name for code, fact in facts(codes).items()}
