from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.authorizations import letters
from core.authorizations import services as authorizations
from core.database import commit, rollback
from core.errors import DomainError
from core.faces import engine as faces
from core.faces import portraits

identity_cli = AppGroup("identity", help="Reference portraits from the identity registry.")
authorizations_cli = AppGroup("authorizations", help="Electronic authorizations and their evidence.")


@identity_cli.command("import-portraits")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--manifest",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with columns id_number, file (relative to DIRECTORY).",
)
def import_portraits(directory: Path, manifest: Path) -> None:
    """Import portraits (stored encrypted, encodings precomputed). Re-importing replaces them."""
    engine = current_app.extensions["face_engine"]()
    try:
        result = portraits.import_portraits(directory, manifest, lambda data: faces.encode_reference(engine, data))
    except DomainError as err:
        rollback()
        details = "\n".join(f"  {k}: {' '.join(v)}" for k, v in (err.errors or {}).items())
        raise click.ClickException(f"{err.message}\n{details}") from None
    commit()
    click.echo(f"imported {result['imported']}, without a usable face {result['no_face']}")


@authorizations_cli.command("verify")
@click.argument("application_id", type=int)
def verify(application_id: int) -> None:
    """Check the evidence chain of an application: hashes, links and seals, and the chain against the head
    stored on the application (records deleted or added). Exit 1 if tampered."""
    problems = authorizations.verify_chain(application_id)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED {problem}")
        raise SystemExit(1)
    click.echo(f"application {application_id}: 证据链完整 / evidence intact")


@authorizations_cli.command("replan")
def replan() -> None:
    """After a new authorization letter is deployed: move every unsigned request to the new text."""
    count = authorizations.replan_for_letter()
    commit()
    click.echo(f"re-planned {count} application(s) on letter {letters.CURRENT_VERSION}")
