"""Operations that can destroy data ask first: `flask db downgrade` in production needs --destroys-data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

from tests.conftest import (
    ROOT,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.core.test_config import GOOD_PRODUCTION


def _flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.run(
        [flask, "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_production_downgrade_is_refused_without_the_flag_and_keeps_every_table(tmp_path):
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable("PostgreSQL not reachable")
    url = scratch_database_url(server, "rl_downgrade")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "RELIEFLINK_TEST"))},
        **GOOD_PRODUCTION,
        "APP_ENV": "production",
        "DATABASE_URL": url,
        "STORAGE_DIR": str(tmp_path),
    }
    up = _flask(env, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    engine = create_engine(url)
    before = set(inspect(engine).get_table_names())
    assert {"audit_log", "applications", "task_outbox"} <= before
    refused = _flask(env, "db", "downgrade", "base")
    assert refused.returncode != 0
    assert "refused" in refused.stderr and "--destroys-data" in refused.stderr
    engine.dispose()
    assert set(inspect(engine).get_table_names()) == before  # nothing dropped
    confirmed = _flask(env, "db", "downgrade", "--destroys-data", "--", "-1")  # one step back, confirmed
    assert confirmed.returncode == 0, confirmed.stderr
    assert "Running downgrade" in confirmed.stderr
    engine.dispose()
    drop_postgres_database(url)
