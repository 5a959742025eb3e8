from __future__ import annotations

import click
from flask.cli import AppGroup

from core.database import rollback
from core.files import storage

files_cli = AppGroup("files", help="Stored files (uploads under STORAGE_DIR).")


@files_cli.command("sweep-orphans")
@click.option("--dry-run", is_flag=True, help="List the orphans, remove nothing.")
@click.option(
    "--older-than-hours",
    type=click.FloatRange(min=1),
    default=None,
    help="Only files last written more than this long ago (default ORPHAN_FILE_MIN_AGE_HOURS, 24).",
)
@click.option(
    "--allow-empty-database",
    is_flag=True,
    help="Sweep even when the database names no file at all (otherwise refused: wrong DATABASE_URL?).",
)
def sweep_orphans(dry_run: bool, older_than_hours: float | None, allow_empty_database: bool) -> None:
    """Remove stored files that no database row names (a process died between the write and the commit)."""
    from flask import current_app

    hours = older_than_hours if older_than_hours is not None else current_app.config["ORPHAN_FILE_MIN_AGE_HOURS"]
    result = storage.sweep_orphans(hours, dry_run=dry_run, allow_empty_database=allow_empty_database)
    rollback()  # read-only
    dry_run = result.dry_run
    for key in result.orphans:
        click.echo(f"{'would remove' if dry_run else 'removed'} {key}")
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(result.orphans)} orphan file(s), {result.bytes} bytes; scanned {result.scanned},"
        f" referenced {result.referenced}, younger than {hours:g} h {result.young}"
    )
    if result.refused:
        raise click.ClickException(
            "the database names no stored file at all: nothing removed (wrong DATABASE_URL or STORAGE_DIR?);"
            " check, then --allow-empty-database"
        )
