"""Department data written straight into the store's documented Parquet layout (core.exchange.store):
``id_number``, ``effective_date``, ``load_id``, ``row_no`` and the category's typed columns."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from core.exchange.defaults import DEFAULTS_BY_CODE

TYPES = {"varchar": pa.string(), "integer": pa.int64(), "decimal": pa.decimal128(18, 2), "date": pa.date32()}


def schema(category: str) -> pa.Schema:
    spec = DEFAULTS_BY_CODE[category]
    fields = [
        ("id_number", pa.string()),
        ("effective_date", pa.date32()),
        ("load_id", pa.int64()),
        ("row_no", pa.int64()),
    ]
    fields += [(c["key"], TYPES[c["type"]]) for c in spec["columns"] if c["key"] != "id_number"]
    return pa.schema(fields)


def write(root: str, category: str, rows: list[dict[str, Any]], *, load_id: int = 1) -> str:
    """One part file of one load; each row needs ``id_number`` and the category's date column."""
    spec = DEFAULTS_BY_CODE[category]
    sch = schema(category)
    cols: dict[str, list] = {f.name: [] for f in sch}
    for i, row in enumerate(rows, start=1):
        for f in sch:
            if f.name == "effective_date":
                value = row.get(spec["date_column"])
            elif f.name == "load_id":
                value = load_id
            elif f.name == "row_no":
                value = row.get("row_no", i)
            else:
                value = row.get(f.name)
            if f.type == pa.decimal128(18, 2) and value is not None:
                value = Decimal(str(value)).quantize(Decimal("0.01"))
            if f.type == pa.date32() and isinstance(value, str):
                value = date.fromisoformat(value)
            cols[f.name].append(value)
    directory = os.path.join(root, category, f"load={load_id}")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "part-0.parquet")
    pq.write_table(pa.table(cols, schema=sch), path)
    return path
