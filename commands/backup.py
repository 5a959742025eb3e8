"""``flask --app wsgi backup create|restore``: the database, the storage directory and a manifest
(docs/operations.md). Thin: the work is in core.backup."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core import backup

backup_cli = AppGroup("backup", help="Back up and restore the database and the storage directory.")

_PG_BIN_DIR = click.option(
    "--pg-bin-dir",
    envvar="PG_BIN_DIR",
    default=None,
    metavar="DIR",
    help="Where pg_dump/pg_restore are (default: the server's version under /usr/lib/postgresql, then PATH).",
)


def _progress() -> backup.Progress:
    started = time.monotonic()

    def echo(message: str) -> None:
        click.echo(f"[{time.monotonic() - started:7.1f}s] {message}")

    return echo


def _size(path: Path) -> str:
    return f"{sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6:.1f} MB"


@backup_cli.command("create")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_PG_BIN_DIR
def create(out_dir: Path, pg_bin_dir: str | None) -> None:
    """Write a backup to OUT_DIR (new or empty): database dump, storage tar, manifest.json.

    The keys (SECRET_KEY, JWT_SECRET_KEY, DATA_ENCRYPTION_KEY) are NOT in it: keep them separately."""
    try:
        manifest = backup.create_backup(out_dir, current_app.config, progress=_progress(), pg_bin_dir=pg_bin_dir)
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from None
    rows = sum(manifest["row_counts"].values())
    click.echo(
        f"backup written to {out_dir} ({_size(out_dir)}, {manifest['seconds']} s): "
        f"{rows} rows in {len(manifest['row_counts'])} tables, {manifest['storage']['files']} files, "
        f"revision {manifest['database']['alembic_revision']}"
    )
    click.echo(f"data key fingerprint {json.dumps(manifest['keys'], ensure_ascii=False)}; the keys are not in it")


@backup_cli.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Empty a target database and STORAGE_DIR that are not empty first.")
@_PG_BIN_DIR
def restore(backup_dir: Path, force: bool, pg_bin_dir: str | None) -> None:
    """Restore BACKUP_DIR into the configured (empty) database and STORAGE_DIR, then verify row counts,
    the migration revision, the files and every evidence chain. Exit 1 on any mismatch."""
    try:
        report = backup.restore_backup(
            backup_dir, current_app.config, force=force, progress=_progress(), pg_bin_dir=pg_bin_dir
        )
    except backup.BackupError as err:
        raise click.ClickException(str(err)) from None
    for warning in report.warnings:
        click.echo(f"WARNING {warning}")
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}")
    summary = (
        f"{report.rows} rows in {report.tables} tables, {report.files} files, "
        f"{report.chains_verified} evidence chains, revision {report.manifest['database']['alembic_revision']}"
    )
    if not report.ok:
        click.echo(f"restore NOT verified ({len(report.problems)} problems): {summary}")
        raise SystemExit(1)
    click.echo(f"restore verified in {report.seconds} s: {summary}")
