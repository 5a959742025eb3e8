"""Loads: department data in (pushed batches, files), checked, stored as Parquet, counted in the catalogue.

Service API (the department-facing HTTP API and the portal call these):

- ``ingest_rows(actor, category=…, rows=…, batch_id=…, department_id=…, client_id=…)``: a pushed batch of
  at most 10,000 rows, checked and stored inline. The same batch id with the same content returns the
  existing load; the same id with other content is a Conflict.
- ``start_file_load(actor, category=…, path=…, filename=…, department_id=…, client_id=…, batch_id=…)``:
  a file already streamed to disk is taken over and queued on the ``bulk`` queue (``run_load``).

A load's files are written before its row commits; a rollback removes them (``after_rollback``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core import clock
from core.actor import Actor
from core.audit import services as audit
from core.database import after_rollback, db, enqueue_after_commit
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.exchange import catalogue, sources, store, validate
from core.exchange.catalogue import DataCategory, DataLoad
from core.exchange.models import ApiClient, Department

log = logging.getLogger(__name__)

MAX_PUSH_ROWS = 10_000
MAX_ROW_FIELDS = 100
MAX_VALUE_CHARS = 2000
RUN_TASK = "exchange.run_load"
STALE_RUNNING = timedelta(hours=2)  # a "running" load older than this was abandoned (a worker died)
BATCH_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")

Progress = Callable[[str, int], None]


def _department(department_id: int) -> Department:
    department = db.session.get(Department, department_id) if isinstance(department_id, int) else None
    if department is None or not department.active:
        raise NotFound("部门不存在或已停用", errors={"department_id": ["部门不存在或已停用"]})
    return department


def _check_provider(actor: Actor, category: DataCategory, department: Department, client_id: int | None) -> None:
    """A client may provide only its own department's data of the categories it is granted; an officer
    uploads for departments inside their region."""
    if client_id is not None:
        client = db.session.get(ApiClient, client_id)
        if client is None or client.department_id != department.id or client.status != "active":
            raise PermissionDenied("接口客户端无效或已吊销")
        if category.code not in (client.categories or []):
            raise PermissionDenied(
                "该客户端无权报送此类数据", errors={"category": [f"未授权报送「{category.name}」数据"]}
            )
        if actor.kind == "department" and actor.id != client_id:
            raise PermissionDenied("接口客户端与签名不符")
        return
    if actor.kind == "system":
        return
    if actor.kind != "officer":
        raise PermissionDenied("部门报送须通过接口客户端")
    catalogue.require(actor, catalogue.MANAGE_ROLES)
    managed = db.session.scalar(
        select(Department.id).where(Department.id == department.id, catalogue.departments_managed_by(actor))
    )
    if managed is None:
        raise NotFound("部门不存在或已停用", errors={"department_id": ["该部门不在您的管辖范围内"]})


def _check_batch_id(batch_id: str | None, *, required: bool) -> str | None:
    if batch_id is None or batch_id == "":
        if required:
            raise ValidationFailed(errors={"batch_id": ["批次号不能为空"]})
        return None
    if not isinstance(batch_id, str) or not BATCH_ID.match(batch_id):
        raise ValidationFailed(errors={"batch_id": ["批次号为1至64位字母、数字或 . _ : -"]})
    return batch_id


def _check_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=1):
        if index > MAX_PUSH_ROWS:
            raise ValidationFailed(errors={"rows": [f"每批最多{MAX_PUSH_ROWS:,}行，请分批报送"]})
        if not isinstance(row, Mapping):
            raise ValidationFailed(errors={"rows": [f"第{index}行不是一个对象"]})
        if len(row) > MAX_ROW_FIELDS:
            raise ValidationFailed(errors={"rows": [f"第{index}行字段过多（最多{MAX_ROW_FIELDS}个）"]})
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if not isinstance(key, str) or len(key) > 60:
                raise ValidationFailed(errors={"rows": [f"第{index}行的字段名不正确"]})
            if (value is not None and not isinstance(value, (str, int, float))) or isinstance(value, bool):
                raise ValidationFailed(errors={"rows": [f"第{index}行「{key}」的值须为文本或数字"]})
            if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
                raise ValidationFailed(errors={"rows": [f"第{index}行「{key}」的内容过长"]})
            clean[key] = value
        out.append(clean)
    if not out:
        raise ValidationFailed(errors={"rows": ["批次中没有数据行"]})
    return out


def _find_batch(
    category: DataCategory, department: Department, client_id: int | None, batch_id: str
) -> DataLoad | None:
    stmt = select(DataLoad).where(DataLoad.category_id == category.id, DataLoad.batch_id == batch_id)
    if client_id is None:
        stmt = stmt.where(DataLoad.client_id.is_(None), DataLoad.department_id == department.id)
    else:
        stmt = stmt.where(DataLoad.client_id == client_id)
    return db.session.scalar(stmt)


def _same_batch(existing: DataLoad, digest: str) -> DataLoad:
    if existing.sha256 != digest:
        raise Conflict(
            "批次号已使用，内容与原批次不同",
            errors={"batch_id": [f"批次号「{existing.batch_id}」已用于另一批数据，请使用新的批次号"]},
        )
    return existing


def _insert_load(load: DataLoad, category: DataCategory, department: Department) -> DataLoad | None:
    """Insert the load; None when a concurrent request inserted the same batch first."""
    if load.batch_id is None:
        db.session.add(load)
        db.session.flush()
        return load
    try:
        with db.session.begin_nested():
            db.session.add(load)
            db.session.flush()
    except IntegrityError:
        if _find_batch(category, department, load.client_id, load.batch_id) is None:
            raise
        return None
    return load


def _source_of(actor: Actor, pushed: bool) -> str:
    if pushed:
        return "push"
    return {"officer": "upload", "department": "api_file"}.get(actor.kind, "cli")


def ingest_rows(
    actor: Actor,
    *,
    category: str,
    rows: Iterable[Mapping[str, Any]],
    batch_id: str,
    department_id: int,
    client_id: int | None,
) -> DataLoad:
    """Check and store a pushed batch at once (≤ 10,000 rows); see the module docstring."""
    cat = catalogue.get_category(category)
    department = _department(department_id)
    _check_provider(actor, cat, department, client_id)
    batch = _check_batch_id(batch_id, required=True)
    assert batch is not None
    checked = _check_rows(rows)
    body = json.dumps(checked, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()
    existing = _find_batch(cat, department, client_id, batch)
    if existing is not None:
        return _same_batch(existing, digest)
    schema = catalogue.schema_of(cat)
    now = clock.utcnow()
    load = DataLoad(
        category_id=cat.id,
        schema_version=schema.version,
        department_id=department.id,
        client_id=client_id,
        officer_id=actor.id if actor.kind == "officer" else None,
        source="push",
        sha256=digest,
        size_bytes=len(body),
        batch_id=batch,
        status="running",
        stage="check",
        created_at=now,
        started_at=now,
    )
    if _insert_load(load, cat, department) is None:
        raced = _find_batch(cat, department, client_id, batch)
        if raced is None:
            raise Conflict("批次正在处理，请稍后重试")
        return _same_batch(raced, digest)
    table, _ = sources.rows_to_arrow(checked, schema.header_map())
    try:
        _check_into_store(load, cat, schema, table)
    except sources.SourceError as err:
        raise ValidationFailed(str(err), errors={"rows": [str(err)]}) from None
    audit.record(
        actor,
        "exchange.load.push",
        load,
        region=department.region_code,
        category=cat.code,
        batch_id=batch,
        rows=load.rows_total,
        accepted=load.rows_accepted,
        rejected=load.rows_rejected,
    )
    return load


def _hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def start_file_load(
    actor: Actor,
    *,
    category: str,
    path: str,
    filename: str,
    department_id: int,
    client_id: int | None,
    batch_id: str | None,
    max_bytes: int | None = None,
) -> DataLoad:
    """Take over a file streamed to disk (it is moved, not copied) and queue its load on ``bulk``."""
    cat = catalogue.get_category(category)
    department = _department(department_id)
    _check_provider(actor, cat, department, client_id)
    batch = _check_batch_id(batch_id, required=False)
    size, digest = _hash_file(path)
    if size == 0:
        raise ValidationFailed(errors={"file": ["文件为空"]})
    if max_bytes and size > max_bytes:
        raise ValidationFailed(errors={"file": [f"文件不能超过{max_bytes // (1024 * 1024):,}MB"]})
    try:
        sources.sniff_format(path, filename)
    except sources.SourceError as err:
        raise ValidationFailed(errors={"file": [str(err)]}) from None
    if batch is not None:
        existing = _find_batch(cat, department, client_id, batch)
        if existing is not None:
            found = _same_batch(existing, digest)
            store.remove_file(path)
            return found
    incoming = store.work_dir("incoming") / f"{secrets.token_hex(16)}.bin"
    shutil.move(path, incoming)
    after_rollback(store.remove_file, str(incoming))
    name = os.path.basename(filename or "")[:200] or "upload"
    load = DataLoad(
        category_id=cat.id,
        schema_version=cat.current_version,
        department_id=department.id,
        client_id=client_id,
        officer_id=actor.id if actor.kind == "officer" else None,
        source=_source_of(actor, False),
        filename=name,
        sha256=digest,
        size_bytes=size,
        batch_id=batch,
        status="pending",
        stage="queued",
        source_key=str(incoming),
        created_at=clock.utcnow(),
    )
    if _insert_load(load, cat, department) is None:
        raced = _find_batch(cat, department, client_id, batch or "")
        if raced is None:
            raise Conflict("批次正在处理，请稍后重试")
        return _same_batch(raced, digest)
    enqueue_after_commit(RUN_TASK, load.id, queue="bulk")
    audit.record(
        actor,
        "exchange.load.start",
        load,
        region=department.region_code,
        category=cat.code,
        filename=name,
        sha256=digest,
        size=size,
    )
    return load


# --- running a load (the bulk worker) -------------------------------------------------------------------


def set_progress(load_id: int, stage: str, percent: int) -> None:
    """Progress on its own connection (the portal and the CLI poll it while the load runs); a failure to
    report progress never fails the load."""
    try:
        with db.engine.begin() as conn:
            conn.execute(
                update(DataLoad).where(DataLoad.id == load_id).values(stage=stage, progress=max(0, min(100, percent)))
            )
    except Exception:
        log.warning("could not record the progress of load %s", load_id, exc_info=True)


def _claim(load_id: int) -> bool:
    now = clock.utcnow()
    with db.engine.begin() as conn:
        claimed = conn.execute(
            update(DataLoad)
            .where(
                DataLoad.id == load_id,
                (DataLoad.status == "pending")
                | ((DataLoad.status == "running") & (DataLoad.started_at < now - STALE_RUNNING)),
            )
            .values(status="running", started_at=now, stage="decode", progress=1)
        )
    return bool(claimed.rowcount)


def run_load(load_id: int, *, progress: Progress | None = None) -> DataLoad | None:
    """Check a queued file load and store it. Safe to run twice: only one run claims a pending load."""
    if not _claim(load_id):
        return db.session.get(DataLoad, load_id)
    load = db.session.get(DataLoad, load_id)
    assert load is not None
    db.session.refresh(load)
    category = db.session.get(DataCategory, load.category_id)
    assert category is not None
    report = progress or (lambda stage, pct: set_progress(load_id, stage, pct))
    work = store.work_dir("loads", str(load.id))
    try:
        schema = catalogue.schema_of(category, load.schema_version)
        report("decode", 5)
        prepared = sources.prepare(load.source_key or "", load.filename, work)
        report("check", 40)
        _check_into_store(load, category, schema, prepared, report)  # 100 % with the load's own row
    except sources.SourceError as err:
        load.status, load.message, load.stage = "failed", str(err), "failed"
        load.finished_at = clock.utcnow()
    except Exception:
        log.exception("exchange load %s failed", load_id)
        load.status, load.message, load.stage = "failed", "处理失败：系统内部错误，请联系管理员", "failed"
        load.finished_at = clock.utcnow()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    store.remove_file(load.source_key)
    load.source_key = None
    department = db.session.get(Department, load.department_id)
    audit.record(
        _system(),
        "exchange.load.finish",
        load,
        region=department.region_code if department else None,
        status=load.status,
        rows=load.rows_total,
        accepted=load.rows_accepted,
        rejected=load.rows_rejected,
    )
    db.session.flush()
    return load


def _system() -> Actor:
    from core.actor import SYSTEM

    return SYSTEM


def _check_into_store(
    load: DataLoad, category: DataCategory, schema: catalogue.Schema, source: Any, progress: Progress | None = None
) -> None:
    """Run the checks into a temporary directory, then move it into place; set the load's counts."""
    final = store.load_dir(category.code, load.id)
    tmp = final + ".tmp"
    store.remove_dir(tmp)
    store.remove_dir(final)
    store.ensure_parent(final)
    errors_path = str(store.errors_dir() / f"load-{load.id}.parquet")
    con = store.connect()
    try:
        result = validate.check(
            con,
            schema,
            source,
            load_id=load.id,
            out_dir=tmp,
            errors_path=errors_path,
            today=clock.local_today(),
            default_date=clock.to_local(load.created_at).date(),
            progress=progress,
        )
    except BaseException:
        store.remove_dir(tmp)
        store.remove_file(errors_path)
        raise
    finally:
        con.close()
    if not store.is_remote():
        os.makedirs(tmp, exist_ok=True)  # no accepted row: an empty load directory
        os.replace(tmp, final)
    after_rollback(store.remove_dir, final)
    after_rollback(store.remove_file, errors_path)
    load.status, load.stage, load.progress = "completed", "done", 100
    load.rows_total, load.rows_accepted, load.rows_rejected = result.total, result.accepted, result.rejected
    load.rejected_by_reason = result.by_reason or None
    load.min_effective_date, load.max_effective_date = result.min_date, result.max_date
    load.storage_path = final
    load.error_report_key = errors_path
    load.finished_at = clock.utcnow()
    db.session.flush()
