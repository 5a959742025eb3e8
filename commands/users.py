from __future__ import annotations

import click
from flask.cli import AppGroup

from core.accounts import services as accounts
from core.accounts.roles import OFFICER_ROLES, REPORTER_ROLES
from core.actor import SYSTEM
from core.database import commit
from core.errors import DomainError

users_cli = AppGroup("users", help="Officers and reporter roles.")


def _fail(err: DomainError) -> None:
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (err.errors or {}).items())
    raise click.ClickException(f"{err.message} {details}".strip())


@users_cli.command("create-officer")
@click.option("--username", required=True)
@click.option("--password", required=True, help="At least 12 characters.")
@click.option("--role", required=True, type=click.Choice(sorted(OFFICER_ROLES)))
@click.option("--region", "region_code", default=None, help="Region code of the role's scope.")
@click.option("--name", "display_name", default=None, help="Display name (default: username).")
def create_officer(username: str, password: str, role: str, region_code: str | None, display_name: str | None) -> None:
    """Create a portal officer; prints the TOTP secret once (line 'totp_secret: BASE32')."""
    try:
        officer, secret = accounts.create_officer(
            SYSTEM, username=username, password=password, role=role, region_code=region_code, display_name=display_name
        )
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"officer: {officer.username} (id {officer.id}, {role}, region {officer.region_code or '-'})")
    click.echo(f"totp_secret: {secret}")


@users_cli.command("grant-role")
@click.option("--phone", required=True, help="The user's log-in phone number.")
@click.option("--role", required=True, type=click.Choice(sorted(REPORTER_ROLES)))
@click.option("--region", "region_code", required=True)
def grant_role(phone: str, role: str, region_code: str) -> None:
    """Grant a reporter role (grid_worker, volunteer, social_worker, official) to a user."""
    try:
        user = accounts.find_user_by_phone(phone)
        accounts.grant_reporter_role(SYSTEM, user, role, region_code)
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"granted {role} in {region_code} to user {user.id}")


@users_cli.command("reset-password")
@click.option("--username", required=True)
@click.option(
    "--password",
    default=None,
    help="The new password (at least 12 characters). Omitted: a one-time password is generated and printed; "
    "the officer must set their own at the next log-in.",
)
def reset_password(username: str, password: str | None) -> None:
    """Reset an officer's password and end all their portal sessions (audited)."""
    try:
        officer = accounts.find_officer_by_username(username)
        new_password, ended = accounts.reset_officer_password(SYSTEM, officer, password)
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"officer: {officer.username} (id {officer.id}); portal sessions ended: {ended}")
    if password is None:
        click.echo(f"one_time_password: {new_password}")
        click.echo("The officer must choose a new password after logging in with it.")
    else:
        click.echo("password set")


@users_cli.command("reset-totp")
@click.option("--username", required=True)
def reset_totp(username: str) -> None:
    """Give an officer a new TOTP secret (printed once) and end all their portal sessions (audited)."""
    try:
        officer = accounts.find_officer_by_username(username)
        secret, ended = accounts.reset_officer_totp(SYSTEM, officer)
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"officer: {officer.username} (id {officer.id}); portal sessions ended: {ended}")
    click.echo(f"totp_secret: {secret}")


@users_cli.command("bind-wechat")
@click.option("--username", required=True)
@click.option("--openid", default="", help="The officer's openid for the mini-program; empty to unbind.")
def bind_wechat(username: str, openid: str) -> None:
    """Bind (or unbind) the WeChat openid that receives the officer's daily digest when chosen (audited)."""
    from core.accounts import digest as preferences

    try:
        officer = accounts.find_officer_by_username(username)
        preferences.bind_wechat(SYSTEM, officer, openid)
    except DomainError as err:
        _fail(err)
    commit()
    click.echo(f"officer: {officer.username} (id {officer.id}); wechat {'bound' if openid else 'unbound'}")
