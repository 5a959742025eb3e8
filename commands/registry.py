"""``flask registry …``: the county's existing recipients in (import, its template). Thin: parse, call core, commit."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from core.actor import SYSTEM
from core.database import commit, db
from core.registry import importer

registry_cli = AppGroup("registry", help="The social-assistance registry (救助对象): import of existing recipients.")

STAGES = {"check": "检查", "write": "写入"}


class _Bars:
    """One click progress bar per stage of the import (check, then write)."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, n: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = click.progressbar(length=total, label=STAGES.get(stage, stage), width=36, file=None)
            self.bar.__enter__()
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@registry_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--county", "county_code", help="County code (6 digits); default: from the townships' codes.")
@click.option("--dry-run", is_flag=True, help="Check every row and count what would be added; write nothing.")
def import_file(file: Path, county_code: str | None, dry_run: bool) -> None:
    """Load a county's current recipient list (.xlsx or .csv): all rows or none."""
    started = time.perf_counter()
    bars = _Bars()
    try:
        rows = importer.parse_file(file)
        county = county_code or importer.county_from_rows(rows)
        result = importer.import_rows(
            SYSTEM,
            rows,
            county,
            max_amount=Decimal(str(current_app.config["REGISTRY_IMPORT_MAX_AMOUNT"])),
            dry_run=dry_run,
            progress=bars,
            source_name=file.name,
        )
    except importer.ImportRefused as refused:
        bars.close()
        db.session.rollback()
        for error in refused.errors[: importer.MAX_ERRORS_SHOWN]:
            click.echo(str(error), err=True)
        if len(refused.errors) > importer.MAX_ERRORS_SHOWN:
            click.echo(f"……另有 {len(refused.errors) - importer.MAX_ERRORS_SHOWN} 处错误未列出", err=True)
        raise click.ClickException(str(refused)) from None
    except IntegrityError:
        bars.close()
        db.session.rollback()  # e.g. an application approved the same person meanwhile: nothing written
        raise click.ClickException("导入期间有其他操作写入了相同的人员或救助对象，未写入任何数据，请重新导入") from None
    bars.close()
    if dry_run:
        db.session.rollback()
    else:
        commit()
    for line in result.lines():
        click.echo(line)
    elapsed = time.perf_counter() - started
    tail = "（试运行，未写入）" if dry_run else ""
    click.echo(f"完成{tail}：{elapsed:.1f} 秒，{result.rows / elapsed if elapsed else 0:,.0f} 行/秒")


@registry_cli.command("import-template")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def import_template(out: Path) -> None:
    """Write the import template (.xlsx: the sheet to fill and a sheet of notes)."""
    importer.write_template(out)
    click.echo(f"模板已写入 {out}")
