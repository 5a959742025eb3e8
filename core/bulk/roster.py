"""The roster the cross-checks join against: the persons of active and suspended enrollments, with the
enrollment each is routed to, as an Arrow table in the worker's memory.

The join key is the full ID number. Persons keep it encrypted (core.pii); decrypting a million Fernet
tokens costs ~12 s on the 2-core machine, and hashing every department row with the keyed blind index
in DuckDB (two SHA-256 a row) ran at ~0.2 million rows/s — both far slower than the join itself
(docs/checks.md). So the decrypted numbers are kept between runs in one file encrypted as a whole
(``<STORAGE_DIR>/bulk/roster-keys.bin``, Fernet over a Parquet of person id, ``updated_at`` and number):
a run decrypts that file once (milliseconds) and only the persons created or changed since.
Plain numbers exist only in memory.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from core import crypto, pii
from core.bulk.antifraud import ROSTER_SCHEMA
from core.database import db
from core.files import storage
from core.registry.models import Enrollment, EnrollmentMember, Person

ROSTER_STATUSES = ("active", "suspended")
CACHE_NAME = "roster-keys.bin"


def _cache_path():
    path = storage.root() / "bulk"
    path.mkdir(parents=True, exist_ok=True)
    return path / CACHE_NAME


def _read_cache() -> dict[int, tuple[datetime, str]]:
    path = _cache_path()
    if not path.exists():
        return {}
    try:
        table = pq.read_table(io.BytesIO(crypto.decrypt_bytes(path.read_bytes())))
    except (ValueError, OSError, pa.ArrowException):  # another key, a torn file: rebuilt
        return {}
    ids, stamps, numbers = (table.column(c).to_pylist() for c in ("person_id", "updated_at", "id_number"))
    return {i: (s, n) for i, s, n in zip(ids, stamps, numbers, strict=True)}


def _write_cache(keys: dict[int, tuple[datetime, str]]) -> None:
    ids = sorted(keys)
    table = pa.table(
        {
            "person_id": pa.array(ids, pa.int64()),
            "updated_at": pa.array([keys[i][0] for i in ids], pa.timestamp("us")),
            "id_number": pa.array([keys[i][1] for i in ids], pa.string()),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    path = _cache_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(crypto.encrypt_bytes(buf.getvalue()))
    tmp.replace(path)


def id_numbers(persons: list[tuple[int, datetime, str]]) -> dict[int, str]:
    """person id → plain ID number for ``(id, updated_at, id_number_enc)``, through the cache."""
    cache = _read_cache()
    out: dict[int, str] = {}
    changed = False
    for person_id, updated_at, token in persons:
        stamp = updated_at.replace(tzinfo=None) if updated_at is not None else datetime(1970, 1, 1)
        hit = cache.get(person_id)
        if hit is not None and hit[0] == stamp:
            out[person_id] = hit[1]
            continue
        number = pii.decrypt_id(token) or ""
        cache[person_id] = (stamp, number)
        out[person_id] = number
        changed = True
    if changed:
        _write_cache(cache)
    return out


def _month_start(month: str | None) -> date:
    try:
        return date(int(month[:4]), int(month[5:7]), 1) if month else date(1970, 1, 1)
    except ValueError:
        return date(1970, 1, 1)


def build(*, county_code: str | None = None) -> pa.Table:
    """One row per person of an active or suspended enrollment (the oldest enrollment when several)."""
    stmt = (
        select(
            EnrollmentMember.person_id,
            Enrollment.id,
            Enrollment.household_id,
            Enrollment.township_code,
            Enrollment.program,
            Enrollment.start_month,
            Enrollment.person_id,
            Person.name,
            Person.updated_at,
            Person.id_number_enc,
        )
        .join(Enrollment, Enrollment.id == EnrollmentMember.enrollment_id)
        .join(Person, Person.id == EnrollmentMember.person_id)
        .where(Enrollment.status.in_(ROSTER_STATUSES))
        .order_by(Enrollment.id, EnrollmentMember.person_id)
    )
    if county_code:
        stmt = stmt.where(Enrollment.county_code == county_code)
    rows = db.session.execute(stmt.execution_options(yield_per=50_000)).all()
    first: dict[int, tuple] = {}
    for row in rows:
        first.setdefault(row[0], row)
    numbers = id_numbers([(r[0], r[8], r[9]) for r in first.values()])
    cols: dict[str, list] = {f.name: [] for f in ROSTER_SCHEMA}
    for person_id, row in first.items():
        number = numbers.get(person_id)
        if not number or len(number) != 18:
            continue
        cols["person_id"].append(person_id)
        cols["id_number"].append(number)
        cols["name"].append(row[7])
        cols["enrollment_id"].append(row[1])
        cols["household_id"].append(row[2])
        cols["township_code"].append(row[3])
        cols["program"].append(row[4])
        cols["start_date"].append(_month_start(row[5]))
        cols["is_payee"].append(row[6] == person_id)
    return pa.table(cols, schema=ROSTER_SCHEMA)
