"""One engine, two executors: the joins are Ibis expressions; ``connect`` gives a DuckDB (default) or a
local/cluster PySpark backend to run them on.

Inputs are injected: ``sources`` maps a catalogue category to its Parquet files (the layout of
core.exchange.store: ``id_number`` VARCHAR(18), ``effective_date`` DATE, ``load_id``, ``row_no`` and the
category's typed columns), and the roster is an Arrow table. Nothing here reads the OLTP database.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

ENGINES = ("duckdb", "spark")


@dataclass
class Engine:
    name: str  # duckdb | spark
    con: Any  # an ibis backend
    session: Any = None  # the SparkSession, for spark

    def close(self) -> None:
        if self.name == "duckdb":
            self.con.disconnect()
        elif self.session is not None:
            self.session.stop()


def connect(
    name: str = "duckdb", *, threads: int = 2, memory_limit: str = "1GB", spill_dir: str | None = None
) -> Engine:
    if name == "duckdb":
        config: dict[str, Any] = {"threads": int(threads), "memory_limit": memory_limit}
        if spill_dir:
            os.makedirs(spill_dir, exist_ok=True)
            config["temp_directory"] = spill_dir
        return Engine("duckdb", ibis.duckdb.connect(**config))
    if name == "spark":
        return Engine("spark", *_spark(threads))
    raise ValueError(f"unknown bulk engine {name!r} (one of {ENGINES})")


def _spark(threads: int) -> tuple[Any, Any]:
    from pyspark.sql import SparkSession

    master = os.environ.get("BULK_SPARK_MASTER") or f"local[{int(threads)}]"
    session = (
        SparkSession.builder.master(master)
        .appName("relieflink-bulk")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(max(int(threads) * 2, 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.local.dir", os.path.join(tempfile.gettempdir(), "relieflink-spark"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session), session


_seq = [0]


def _name(prefix: str) -> str:
    _seq[0] += 1
    return f"{prefix}_{os.getpid()}_{_seq[0]}"


def read_parquet(engine: Engine, paths: Sequence[str], *, name: str) -> Any:
    """An Ibis table over Parquet files (union by column name across schema versions)."""
    paths = [str(p) for p in paths]
    if engine.name == "duckdb":
        return engine.con.read_parquet(paths, table_name=_name(name), union_by_name=True)
    df = engine.session.read.option("mergeSchema", "true").parquet(*paths)
    view = _name(name)
    df.createOrReplaceTempView(view)
    return engine.con.table(view)


def from_arrow(engine: Engine, table: pa.Table, *, name: str) -> Any:
    """An Ibis table over an in-memory Arrow table (the roster: never written to disk in clear)."""
    view = _name(name)
    if engine.name == "duckdb":
        engine.con.con.register(view, table)
        return engine.con.table(view)
    df = engine.session.createDataFrame(table.to_pandas()) if table.num_rows else None
    if df is None:
        from pyspark.sql.types import StructType

        schema = _spark_schema(table.schema)
        df = engine.session.createDataFrame([], StructType(schema))
    df.createOrReplaceTempView(view)
    return engine.con.table(view)


def _spark_schema(schema: pa.Schema) -> list[Any]:
    from pyspark.sql import types as T

    mapping = {
        pa.int64(): T.LongType(),
        pa.string(): T.StringType(),
        pa.large_string(): T.StringType(),
        pa.date32(): T.DateType(),
        pa.bool_(): T.BooleanType(),
        pa.float64(): T.DoubleType(),
    }
    return [T.StructField(f.name, mapping.get(f.type, T.StringType()), True) for f in schema]


def tables(engine: Engine, sources: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """One Ibis table per category that has files (categories without data are left out)."""
    return {code: read_parquet(engine, paths, name=code) for code, paths in sources.items() if paths}


def to_arrow(engine: Engine, expr: Any) -> pa.Table:
    return engine.con.to_pyarrow(expr)
