"""Migrations: empty -> head -> empty on PostgreSQL, and the models match the migrations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from core.database import db, include_for
from tests.conftest import (
    ROOT,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)


def migrate_database(url: str, command: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``flask db COMMAND`` against ``url`` in a separate process, as an operator would."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "testing"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", command, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_for(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


@pytest.mark.postgres
def test_upgrade_and_downgrade_on_postgresql():
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    url = scratch_database_url(server, "relieflink_migration_test")
    engine = create_engine(url)
    try:
        migrate_database(url, "upgrade")
        tables = set(inspect(engine).get_table_names())
        assert {
            "regions",
            "users",
            "officers",
            "cases",
            "audit_log",
            "outbox_messages",
            "idempotency_records",
            "alembic_version",
        } <= tables
        with engine.connect() as conn:
            triggers = (
                conn.exec_driver_sql(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal"
                )
                .scalars()
                .all()
            )
        assert triggers == ["audit_log_no_update_delete"]
        migrate_database(url, "downgrade", "base")
        engine.dispose()
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        migrate_database(url, "upgrade")  # and up again from the bottom
        engine.dispose()
        assert "cases" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        drop_postgres_database(url)
