"""``flask checks …``: the anti-fraud cross-check from the command line, with its progress, and the jobs.
Thin: parse, call core.bulk, commit, print."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from core.actor import SYSTEM
from core.bulk import crosscheck
from core.database import commit

checks_cli = AppGroup("checks", help="Economic checks and the anti-fraud cross-check of recipients (在保对象比对).")


@checks_cli.command("antifraud")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True)
@click.option("--queue", "queue_it", is_flag=True, help="Queue on the bulk worker instead of running here.")
def antifraud(engine: str, queue_it: bool) -> None:
    """Join every active enrollment's persons against the current department data; raise warnings."""
    job = crosscheck.start(SYSTEM, trigger="cli", engine=engine, enqueue=queue_it)
    job_id = job.id
    commit()
    if queue_it:
        click.echo(f"job {job_id} queued")
        return

    def show(stage: str, percent: int) -> None:
        click.echo(f"[{percent:3d}%] {stage}")

    job = crosscheck.run(job_id, on_progress=show)
    click.echo(json.dumps({"job": job.id, "status": job.status, **(job.result or {})}, ensure_ascii=False))


@checks_cli.command("jobs")
@click.option("--limit", default=10, show_default=True)
def jobs(limit: int) -> None:
    """The latest anti-fraud jobs with their stage and progress."""
    for job in crosscheck.recent_jobs(SYSTEM, limit=limit):
        result = job.result or {}
        click.echo(
            f"{job.id}\t{job.trigger}\t{job.engine}\t{job.status}\t{job.stage}\t{job.progress}%\t"
            f"persons={result.get('persons', '')}\thits={result.get('hits', '')}\tcreated={result.get('created', '')}"
        )
