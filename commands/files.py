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
def sweep_orphans(dry_run: bool, older_than_hours: float | None) -> None:
    """Remove stored files that no database row names (a process died between the write and the commit)."""
    from flask import current_app

    hours = older_than_hours if older_than_hours is not None else current_app.config["ORPHAN_FILE_MIN_AGE_HOURS"]
    result = storage.sweep_orphans(hours, dry_run=dry_run)
    rollback()  # read-only
    for key in result.orphans:
        click.echo(f"{'would remove' if dry_run else 'removed'} {key}")
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(result.orphans)} orphan file(s), {result.bytes} bytes; scanned {result.scanned},"
        f" referenced {result.referenced}, younger than {hours:g} h {result.young}"
    )
