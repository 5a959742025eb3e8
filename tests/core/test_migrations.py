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


def test_notified_at_revision_downgrades_on_sqlite_with_corrections_naming_events(tmp_path):
    """f0a1b2c3d4e5 (application_events.notified_at, notice) down and up on SQLite with rows: the table is
    named by attachments.correction_event_id, so a batch copy-and-drop of application_events fails the
    foreign key check (PRAGMA foreign_keys=ON); the columns are dropped in place. Up again: backfilled."""
    import sqlite3

    path = tmp_path / "notified.db"
    url = f"sqlite:///{path}"
    migrate_database(url, "upgrade", "f0a1b2c3d4e5")
    conn = sqlite3.connect(path)

    def insert(table: str, **given: object) -> int:
        names, values = [], []
        for _cid, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})"):
            if name in given:
                names.append(name)
                values.append(given[name])
            elif notnull and not pk and default is None:
                kind = (kind or "").upper()
                names.append(name)
                if any(k in kind for k in ("INT", "BOOL", "NUM")):
                    values.append(1)
                elif "DATE" in kind or "TIME" in kind:
                    values.append("2026-01-01 00:00:00")
                else:
                    values.append("{}" if "JSON" in kind else "x")
        conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
        return conn.execute("SELECT last_insert_rowid()").fetchone()[0]

    application = insert("applications", reference="SQ20261204AAAA0001", status="correction_requested")
    event = insert("application_events", application_id=application, at="2026-12-04 01:00:00")
    insert("attachments", application_id=application, correction_event_id=event)
    conn.commit()
    conn.close()
    migrate_database(url, "downgrade", "e9f0a1b2c3d4")
    conn = sqlite3.connect(path)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(application_events)")}
    assert "notified_at" not in columns and "notice" not in columns
    assert conn.execute("SELECT count(*) FROM application_events").fetchone() == (1,)
    conn.close()
    migrate_database(url, "upgrade", "f0a1b2c3d4e5")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT notified_at FROM application_events").fetchone() == ("2026-12-04 01:00:00",)
    conn.close()
