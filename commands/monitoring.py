"""``flask monitoring …``: the monitored population and its evaluation. Thin: parse, call core, commit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from core.actor import SYSTEM
from core.database import commit, rollback
from core.errors import DomainError
from core.monitoring import evaluation, roster

monitoring_cli = AppGroup("monitoring", help="Dynamic monitoring of the low-income population (动态监测预警).")


def _fail(err: DomainError) -> None:
    rollback()
    details = "; ".join(f"{k}: {'、'.join(v)}" for k, v in (err.errors or {}).items())
    raise click.ClickException(f"{err.message} {details}".strip()) from None


@monitoring_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--months", default=12, show_default=True, help="Membership period when the file gives no end date.")
def import_list(file: Path, months: int) -> None:
    """Import persons to monitor (CSV in UTF-8/GBK or XLSX, Chinese headers): all rows or none."""
    try:
        result = roster.import_file(SYSTEM, file, default_months=months)
    except DomainError as err:
        _fail(err)
        return
    if result.errors:
        rollback()
        for row, column, reason in result.errors[:200]:
            click.echo(f"第{row}行 {column}：{reason}", err=True)
        if len(result.errors) > 200:
            click.echo(f"… 共 {len(result.errors)} 行有误", err=True)
        raise click.ClickException(f"{len(result.errors)} 行有误，未导入任何数据")
    commit()
    click.echo(f"imported {result.rows} rows: {result.added} added, {result.updated} updated")


@monitoring_cli.command("rebuild-roster")
@click.option("--county", "county_code", default=None, help="Only this county (6 digits).")
def rebuild_roster(county_code: str | None) -> None:
    """Refresh the roster from the registry, refused applications and reports."""
    result = roster.rebuild(SYSTEM, county=county_code)
    commit()
    click.echo(f"roster: {result.added} added, {result.updated} updated, {result.ended} ended {result.by_source}")


def _report(run) -> None:  # noqa: ANN001
    if run is None:
        click.echo("already evaluated (use --force to run again)")
        return
    click.echo(
        f"{run.kind} as of {run.as_of}: {run.persons} persons, {run.hits} rule hits, "
        f"{run.created} new warnings, {run.updated} updated, {run.suppressed} suppressed, {run.duration_ms} ms"
    )


@monitoring_cli.command("evaluate-load")
@click.argument("load_id", type=int)
@click.option("--force", is_flag=True, help="Run again over a load already evaluated (warnings still dedupe).")
def evaluate_load(load_id: int, force: bool) -> None:
    """Evaluate the persons one department load touched."""
    run = evaluation.run_load(load_id, force=force)
    commit()
    _report(run)


@monitoring_cli.command("evaluate")
@click.option("--as-of", "as_of", default=None, help="Evaluation date (YYYY-MM-DD), default today.")
@click.option("--force", is_flag=True)
def evaluate_full(as_of: str | None, force: bool) -> None:
    """Evaluate every current member against every rule (what the nightly job does)."""

    def progress(rule: str, percent: int) -> None:
        click.echo(f"  {percent:3d}% {rule}")

    run = evaluation.run_full(as_of=date.fromisoformat(as_of) if as_of else None, force=force, progress=progress)
    commit()
    _report(run)


@monitoring_cli.command("sweep")
def sweep() -> None:
    """Evaluate the completed department loads not yet evaluated."""
    for load_id in evaluation.pending_loads():
        _report(evaluation.run_load(load_id))
        commit()
