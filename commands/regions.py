from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import AppGroup

from core.database import commit
from core.regions import services as regions

regions_cli = AppGroup("regions", help="Administrative divisions.")


@regions_cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--with-villages", is_flag=True, help="Also load villages.csv (about 620,000 rows).")
def import_command(directory: Path, with_villages: bool) -> None:
    """Load provinces, cities, counties, townships (and villages) from DIRECTORY, idempotently."""
    expected = regions.count_csv_rows(directory, with_villages=with_villages)
    started = time.perf_counter()
    with click.progressbar(length=sum(expected.values()), label="importing regions") as bar:
        result = regions.import_directory(
            directory, with_villages=with_villages, progress=lambda level, n: bar.update(n)
        )
    commit()
    for level, counts in result.items():
        click.echo(f"{level}: read {counts['read']}, inserted or changed {counts['written']}")
    click.echo(f"done in {time.perf_counter() - started:.1f} s")
