"""``flask db grant-app-role``: the least-privilege role the app connects as (docs/deployment.md)."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask_migrate.cli import db as db_cli
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from core.database import db
from core.db_roles import RoleSetupError, grant_app_role


def owner_engine() -> Engine:
    """The migration owner's connection: ``MIGRATION_DATABASE_URL`` when set, else ``DATABASE_URL``."""
    url = current_app.config.get("MIGRATION_DATABASE_URL")
    if url:
        return create_engine(url, poolclass=NullPool, hide_parameters=True)
    return db.engine


@db_cli.command("grant-app-role")
@click.option("--role", required=True, help="The role the app connects as, e.g. relieflink_app.")
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="Environment variable holding the role's password (never on the command line).",
)
def grant_app_role_command(role: str, password_env: str | None) -> None:
    """Create ROLE if missing and grant it row access only (audit_log: INSERT and SELECT).

    Run as the owner of the tables, after every `flask db upgrade`; running it again is harmless."""
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise click.ClickException(f"environment variable {password_env} is empty")
    engine = owner_engine()
    try:
        with engine.begin() as conn:
            done = grant_app_role(conn, role, password)
    except RoleSetupError as err:
        raise click.ClickException(str(err)) from None
    for statement in done:
        click.echo(statement)
    click.echo(f"role {role}: row access granted; it owns nothing, so TRUNCATE/ALTER/DROP are refused")


# --- `flask db downgrade` cannot destroy a production database by accident --------------------------
# Downgrading drops tables (the audit log and the evidence chains among them). In production it is refused
# unless --destroys-data is given; elsewhere it runs as before.
_downgrade = db_cli.commands["downgrade"]
_original_downgrade = _downgrade.callback
_downgrade.params.append(
    click.Option(
        ["--destroys-data"],
        is_flag=True,
        help="Confirm a downgrade in production: it drops tables and their rows (take a backup first).",
    )
)


def _guarded_downgrade(*args, destroys_data: bool = False, **kwargs):
    if current_app.config.get("APP_ENV") == "production" and not destroys_data:
        raise click.ClickException(
            "refused: `flask db downgrade` drops tables and their data (audit log, evidence) in production; "
            "take a backup, then run it again with --destroys-data"
        )
    return _original_downgrade(*args, **kwargs)


_downgrade.callback = _guarded_downgrade
