from __future__ import annotations

import csv
from pathlib import Path

import click
from flask.cli import AppGroup

from core.accounts import services as accounts
from core.actor import SYSTEM
from core.database import commit, rollback
from core.errors import DomainError
from core.reports import services as reports

reports_cli = AppGroup("reports", help="Reports of people in difficulty (主动发现).")


@reports_cli.command("set-deadlines")
@click.option("--county", "county_code", required=True)
@click.option("--urgent-days", type=int, default=1, show_default=True)
@click.option("--normal-days", type=int, default=3, show_default=True)
def set_deadlines(county_code: str, urgent_days: int, normal_days: int) -> None:
    """First-contact deadlines of a county, in working days."""
    try:
        reports.set_contact_days(SYSTEM, county_code, urgent_days, normal_days)
    except DomainError as err:
        rollback()
        raise click.ClickException(f"{err.message} {err.errors}") from None
    commit()
    click.echo(f"{county_code}: urgent {urgent_days}, normal {normal_days} working days")


@reports_cli.command("escalate")
def escalate() -> None:
    """Escalate overdue first contacts now (the beat schedule does this every 30 minutes)."""
    click.echo(f"escalated {reports.escalate_overdue(SYSTEM)}")
    commit()


@reports_cli.command("import-reporters")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_reporters(path: Path) -> None:
    """Grant reporter roles from a CSV (columns phone, role, region). All rows or none."""
    errors = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for n, row in enumerate(rows, start=2):
        try:
            user = accounts.find_user_by_phone(row.get("phone", ""))
            accounts.grant_reporter_role(
                SYSTEM, user, (row.get("role") or "").strip(), (row.get("region") or "").strip()
            )
        except DomainError as err:
            errors.append(f"row {n}: {err.message} {err.errors or ''}".strip())
    if errors:
        rollback()
        raise click.ClickException("nothing imported:\n" + "\n".join(errors))
    commit()
    click.echo(f"granted {len(rows)} roles")
