"""``flask exchange …``: the department-data catalogue, file loads with progress, retention. Thin: parse,
call core.exchange, commit."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.actor import SYSTEM
from core.database import commit, db
from core.errors import DomainError
from core.exchange import catalogue, ingest, retention, store
from core.exchange.catalogue import DataLoad
from core.exchange.models import Department

exchange_cli = AppGroup("exchange", help="Department data: catalogue, loads (GBK/UTF-8 CSV, XLSX, Parquet), retention.")


@exchange_cli.command("catalogue")
def show_catalogue() -> None:
    """Install the default categories that are missing and list the catalogue with its freshness."""
    added = catalogue.install_defaults(SYSTEM)
    commit()
    if added:
        click.echo(f"已添加数据类别：{'、'.join(added)}")
    for category in db.session.scalars(select(catalogue.DataCategory).order_by(catalogue.DataCategory.id)):
        fresh = catalogue.freshness(category)
        flag = "已过期" if fresh.stale else "正常"
        click.echo(
            f"{category.code:<24} {category.name:<10} 第{category.current_version}版 {fresh.rows:>12,}行 "
            f"最新生效日期 {fresh.latest_effective_date or '—'} {flag}"
        )


def _echo_load(load: DataLoad) -> None:
    click.echo(
        f"批次 {load.id}：{catalogue.LOAD_STATUSES.get(load.status, load.status)}，总行数 {load.rows_total:,}，"
        f"入库 {load.rows_accepted:,}，拒收 {load.rows_rejected:,}"
        + (
            f"（{', '.join(f'{k} {v:,}' for k, v in (load.rejected_by_reason or {}).items())}）"
            if load.rows_rejected
            else ""
        )
        + (f"：{load.message}" if load.message else "")
    )


@exchange_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--category", required=True, help="Category code, e.g. deaths, pensions (flask exchange catalogue).")
@click.option("--department", "department_code", required=True, help="The providing department's code.")
@click.option("--batch-id", help="Batch id: loading the same batch again changes nothing.")
def load_file(file: Path, category: str, department_code: str, batch_id: str | None) -> None:
    """Load a department file: checked and stored on the bulk queue (in-process without a broker); shows
    progress until the load has finished."""
    department = db.session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise click.ClickException(f"部门 {department_code} 不存在")
    fd, tmp = tempfile.mkstemp(prefix="cli-", dir=store.work_dir("incoming"))
    with open(fd, "wb") as out, open(file, "rb") as src:
        shutil.copyfileobj(src, out, 4 * 1024 * 1024)  # the load takes its own copy over
    started = time.perf_counter()
    try:
        load = ingest.start_file_load(
            SYSTEM,
            category=category,
            path=tmp,
            filename=file.name,
            department_id=department.id,
            client_id=None,
            batch_id=batch_id,
            max_bytes=current_app.config["EXCHANGE_MAX_UPLOAD_BYTES"],
        )
        load_id = load.id
        commit()
    except DomainError as err:
        db.session.rollback()
        store.remove_file(tmp)
        detail = "；".join(m for v in err.errors.values() for m in v)
        raise click.ClickException(f"{err.message}{'：' + detail if detail else ''}") from None
    last = None
    while True:
        db.session.expire_all()
        load = db.session.get(DataLoad, load_id)
        if (load.stage, load.progress) != last:
            click.echo(f"  {load.stage or ''} {load.progress}%")
            last = (load.stage, load.progress)
        if load.status not in ("pending", "running"):
            break
        db.session.rollback()
        time.sleep(1)
    _echo_load(load)
    click.echo(f"用时 {time.perf_counter() - started:.1f} 秒")


@exchange_cli.command("status")
@click.argument("load_id", type=int)
def status(load_id: int) -> None:
    """A load's status, progress and counts."""
    load = db.session.get(DataLoad, load_id)
    if load is None:
        raise click.ClickException("批次不存在")
    click.echo(f"  {load.stage or ''} {load.progress}%")
    _echo_load(load)


@exchange_cli.command("purge")
def purge() -> None:
    """Delete the department data whose retention has ended (what the daily beat job does)."""
    count = retention.purge_expired(SYSTEM)
    commit()
    click.echo(f"已删除 {count} 个超过保存期限的批次")


@exchange_cli.command("retention")
@click.argument("category")
@click.argument("days", type=int)
def set_retention(category: str, days: int) -> None:
    """Set a category's retention in days (audited)."""
    admin = SYSTEM.__class__(kind="system", id=None, roles=("system", "system_admin"))
    try:
        catalogue.set_retention(admin, category, days)
    except DomainError as err:
        raise click.ClickException(err.message) from None
    commit()
    click.echo(f"{category} 保存期限已设为 {days} 天")
