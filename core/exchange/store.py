"""The columnar store of department data: Parquet partitions, read with DuckDB.

Layout (root: ``EXCHANGE_STORE_URL``, default ``STORAGE_DIR/exchange``)::

    <root>/<category>/load=<load_id>/part-<n>.parquet

Every file has the normalized columns ``id_number`` VARCHAR (18 characters, upper-case X),
``effective_date`` DATE, ``load_id`` BIGINT, ``row_no`` BIGINT (the row in the source file, for evidence),
then the category's typed columns (schema version of its load). Nothing of the rows goes into the OLTP
database. ``current_paths`` and ``relation`` are the public way in for cross-checks and monitoring
(docs/exchange.md).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core import clock
from core.database import db
from core.errors import ValidationFailed

STREAM_CHUNK = 1024 * 1024


@dataclass
class Settings:
    root: str = "instance/storage/exchange"
    work_dir: str = "instance/storage/exchange-work"
    memory_limit: str = "512MB"
    threads: int = 2


_settings = Settings()


def configure(
    *,
    store_url: str | None,
    storage_dir: str,
    memory_limit: str = "512MB",
    threads: int = 2,
    work_dir: str | None = None,
) -> None:
    global _settings
    _settings = Settings(
        root=(store_url or os.path.join(storage_dir, "exchange")).rstrip("/"),
        work_dir=work_dir or os.path.join(storage_dir, "exchange-work"),
        memory_limit=memory_limit,
        threads=int(threads),
    )


def settings() -> Settings:
    return _settings


def is_remote() -> bool:
    return "://" in _settings.root and not _settings.root.startswith("file://")


def root() -> str:
    return _settings.root


def errors_dir() -> Path:
    """Rejected rows of each load (Parquet), kept with the load and purged with it."""
    return work_dir("..", "exchange-errors").resolve()


def load_dir(category_code: str, load_id: int) -> str:
    return f"{_settings.root}/{category_code}/load={int(load_id)}"


def work_dir(*parts: str) -> Path:
    path = Path(_settings.work_dir, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def connect(*, memory_limit: str | None = None, threads: int | None = None) -> Any:
    """A DuckDB connection with the configured memory limit and threads, spilling to the work directory.

    A remote root (``s3://…``) needs DuckDB's ``httpfs`` extension and the S3 settings of
    docs/exchange.md; it is loaded here when the root asks for it."""
    import duckdb

    spill = work_dir("spill")
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit or _settings.memory_limit,
            "threads": int(threads or _settings.threads),
            "temp_directory": str(spill),
            "preserve_insertion_order": True,
        }
    )
    if is_remote():
        con.execute("LOAD httpfs")
        for key, env in (
            ("s3_endpoint", "EXCHANGE_S3_ENDPOINT"),
            ("s3_region", "EXCHANGE_S3_REGION"),
            ("s3_access_key_id", "EXCHANGE_S3_ACCESS_KEY_ID"),
            ("s3_secret_access_key", "EXCHANGE_S3_SECRET_ACCESS_KEY"),
            ("s3_url_style", "EXCHANGE_S3_URL_STYLE"),
        ):
            if os.environ.get(env):
                con.execute(f"SET {key} = ?", [os.environ[env]])
    return con


def load_files(directory: str) -> list[str]:
    """The part files of one load (a glob for a remote store: DuckDB expands it)."""
    if is_remote():
        return [f"{directory}/part-*.parquet"]
    return sorted(glob.glob(os.path.join(directory, "part-*.parquet")))


def ensure_parent(directory: str) -> None:
    if not is_remote():
        os.makedirs(os.path.dirname(directory), exist_ok=True)


def remove_dir(directory: str | None) -> None:
    if not directory:
        return
    if is_remote():  # object stores: deleted by the bucket's lifecycle rule on the prefix (docs/exchange.md)
        return
    shutil.rmtree(directory, ignore_errors=True)


def save_stream(
    stream: Any, *, folder: str, max_bytes: int | None = None, on_chunk: Callable[[bytes], None] | None = None
) -> tuple[str, int]:
    """Copy an upload's stream to a new file under the work folder in 1 MB chunks (a 2 GB file is never
    held in memory); ``on_chunk`` sees each chunk (a digest). Over ``max_bytes`` the partial file is removed
    and the upload refused with the field."""
    fd, path = tempfile.mkstemp(prefix="upload-", dir=work_dir(folder))
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(STREAM_CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ValidationFailed(errors={"file": [f"文件不能超过{max_bytes // (1024 * 1024):,}MB"]})
                if on_chunk is not None:
                    on_chunk(chunk)
                out.write(chunk)
    except BaseException:
        remove_file(path)
        raise
    return path, size


def remove_file(path: str | None) -> None:
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def current_loads(category_code: str, *, department_ids: set[int] | None = None) -> list[Any]:
    """The completed loads whose rows are current for a category (see ``current_paths``)."""
    from core.exchange import catalogue

    category = catalogue.get_category(category_code)
    cutoff = clock.utcnow() - timedelta(days=category.retention_days)
    return [
        load
        for load in catalogue.current_loads(category, department_ids)
        if load.created_at >= cutoff and load.storage_path
    ]


def current_paths(category_code: str, *, department_ids: set[int] | None = None) -> list[str]:
    """The Parquet files holding a category's current data.

    - snapshot categories (全量快照): the files of the latest completed load of each department;
    - increment categories (增量): the files of every completed load still within retention.

    Optionally only the loads of ``department_ids``. Empty when nothing is loaded."""
    paths: list[str] = []
    for load in current_loads(category_code, department_ids=department_ids):
        paths.extend(load_files(load.storage_path))
    return paths


def empty_select(schema: Any) -> str:
    cols = [
        "CAST(NULL AS VARCHAR) AS id_number",
        "CAST(NULL AS DATE) AS effective_date",
        "CAST(NULL AS BIGINT) AS load_id",
        "CAST(NULL AS BIGINT) AS row_no",
    ]
    cols += [f'CAST(NULL AS {c.sql_type}) AS "{c.key}"' for c in schema.data_columns]
    return "SELECT " + ", ".join(cols) + " WHERE false"


def relation(con: Any, category_code: str, *, department_ids: set[int] | None = None) -> Any:
    """A DuckDB relation over ``current_paths(category_code)`` (union by column name across schema
    versions); an empty relation with the current schema's columns when nothing is loaded."""
    from core.exchange import catalogue

    paths = current_paths(category_code, department_ids=department_ids)
    if not paths:
        category = catalogue.get_category(category_code)
        return con.sql(empty_select(catalogue.schema_of(category)))
    return con.read_parquet(paths, union_by_name=True)


def purge_candidates(now: Any = None) -> list[Any]:
    """Completed or failed loads older than their category's retention."""
    from core.exchange.catalogue import DataCategory, DataLoad

    now = now or clock.utcnow()
    out = []
    rows = db.session.execute(
        select(DataLoad, DataCategory)
        .join(DataCategory, DataCategory.id == DataLoad.category_id)
        .where(DataLoad.status.in_(("completed", "failed")))
    ).all()
    for load, category in rows:
        if load.created_at < now - timedelta(days=category.retention_days):
            out.append(load)
    return out
