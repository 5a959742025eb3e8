"""Department data as Parquet files in the store's layout, written directly (the engine takes paths)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.exchange.defaults import DEFAULTS_BY_CODE
from core.idnumber import make_id_number
from core.monitoring.engine import _ARROW_TYPES


def pid(born: date, seq: int, prefix: str = "360124") -> str:
    return make_id_number(prefix, born, seq)


def write_category(directory: Path, code: str, rows: list[dict[str, Any]], load_id: int = 1) -> list[str]:
    """``rows``: id_number, effective_date and the category's columns (missing ones are null)."""
    spec = DEFAULTS_BY_CODE[code]
    date_column = spec["date_column"]
    fields = [
        pa.field("id_number", pa.string()),
        pa.field("effective_date", pa.date32()),
        pa.field("load_id", pa.int64()),
        pa.field("row_no", pa.int64()),
    ] + [pa.field(c["key"], _ARROW_TYPES[c["type"]]) for c in spec["columns"] if c["key"] != "id_number"]
    schema = pa.schema(fields)
    out = []
    for n, row in enumerate(rows, start=1):
        item = {f.name: row.get(f.name) for f in fields}
        item["effective_date"] = row.get("effective_date") or row.get(date_column)
        item[date_column] = item["effective_date"]
        item["load_id"], item["row_no"] = load_id, n
        out.append(item)
    path = directory / code / f"load={load_id}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(out, schema=schema), path)
    return [str(path)]


def roster_table(rows: list[dict[str, Any]]) -> pa.Table:
    base = {"id_number": None, "household_key": None, "rank": 0, "township_code": "360124100", "name": None}
    return pa.Table.from_pylist([{**base, **r} for r in rows])
