from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core import demo
from core.database import commit
from core.exchange import demo as exchange_demo

demo_cli = AppGroup("demo", help="Demo data for the embedded default.")

SHARED_REGIONS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "regions"


@demo_cli.command("load")
@click.option(
    "--regions-dir",
    type=click.Path(path_type=Path),
    default=SHARED_REGIONS,
    show_default=True,
    help="Import the four upper levels from here when present; else a built-in subset.",
)
def load(regions_dir: Path) -> None:
    """Load demo regions, officers, a citizen and a reporter (once; re-running changes nothing)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("demo data is refused in production")
    started = time.perf_counter()
    last = [0.0, ""]

    def progress(text: str) -> None:
        # region batches arrive every few hundred milliseconds: one line a second at most, plus each new step
        now = time.perf_counter() - started
        step = text.split(":", 1)[0]
        if step != last[1] or now - last[0] >= 1.0:
            click.echo(f"  [{now:5.1f} s] {text}")
            last[0], last[1] = now, step

    click.echo(
        "loading demo data (first run: regions, officers, a citizen, an application, a report, "
        "a register of 3,000 households) ..."
    )
    for line in demo.load(regions_dir if regions_dir.exists() else None, progress) or ["demo data already present"]:
        click.echo(line)
    commit()
    click.echo(f"demo data ready in {time.perf_counter() - started:.1f} s")


@demo_cli.command("info")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
def info(base_url: str) -> None:
    """Print the URLs and demo log-ins."""
    click.echo(f"Portal:   {base_url}/portal/")
    click.echo(f"API docs: {base_url}/api/docs  (OpenAPI: {base_url}/api/openapi.json)")
    click.echo(f"Officer password (all demo officers): {demo.DEMO_PASSWORD}")
    for login in demo.logins():
        click.echo(f"  {login.username:8} {login.role:17} {login.region_code:10} totp_secret: {login.totp_secret}")
    click.echo("  (current code: python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")")
    click.echo(
        f"Citizen: phone {demo.DEMO_CITIZEN_PHONE}; reporter (grid worker): {demo.DEMO_REPORTER_PHONE}; "
        "log in with POST /api/v1/auth/sms/send then /sms/verify (dev_code is returned in development)"
    )
    key = exchange_demo.key()
    if key is not None:
        click.echo(
            f"Department key (signed calls to {base_url}/api/v1/exchange, docs/exchange-api.md): keyid {key.key_id} "
            f"secret {key.secret} ({key.algorithm}; categories {', '.join(key.categories)})"
        )
