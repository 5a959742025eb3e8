from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click
from flask.cli import AppGroup

from core.actor import SYSTEM
from core.applications import settings
from core.applications.programs import PROGRAMS
from core.database import commit, rollback
from core.errors import DomainError

programs_cli = AppGroup("programs", help="Relief programs: local standards and settings per county.")


def _fail(err: DomainError) -> None:
    rollback()
    details = "\n".join(f"  {k}: {' '.join(v)}" for k, v in (err.errors or {}).items())
    raise click.ClickException(f"{err.message}\n{details}".rstrip())


@programs_cli.command("set-standard")
@click.option("--county", "county_code", required=True, help="County code, e.g. 360124.")
@click.option("--program", required=True, type=click.Choice(sorted(PROGRAMS)))
@click.option("--amount", type=Decimal, default=None, help="Local standard, yuan per person per month.")
@click.option("--materials", default=None, help="Required materials, comma-separated (e.g. id_card,hukou).")
@click.option("--delegated/--not-delegated", default=None, help="Township confirms instead of the county.")
@click.option("--accept-days", type=int, default=None, help="Acceptance deadline in working days.")
@click.option("--appraisal/--no-appraisal", default=None, help="Neighbourhood appraisal (民主评议) is a step.")
def set_standard(
    county_code: str,
    program: str,
    amount: Decimal | None,
    materials: str | None,
    delegated: bool | None,
    accept_days: int | None,
    appraisal: bool | None,
) -> None:
    """Set a county's settings for one program."""
    try:
        row = settings.set_program_setting(
            SYSTEM,
            county_code,
            program,
            monthly_standard=amount,
            required_materials=[m.strip() for m in materials.split(",") if m.strip()] if materials else None,
            confirmation_delegated=delegated,
            appraisal_enabled=appraisal,
            accept_working_days=accept_days,
        )
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(
        f"{county_code} {program}: standard {row.monthly_standard} yuan/person/month, "
        f"materials {row.required_materials}, delegated {row.confirmation_delegated}"
    )


@programs_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Load settings from a CSV or .xlsx sheet (columns: county_code, program, monthly_standard,
    required_materials [a;b], confirmation_delegated [是/否], accept_working_days, enabled). All rows or none."""
    try:
        count = settings.import_settings(SYSTEM, settings.read_settings_file(path))
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"imported {count} rows")
