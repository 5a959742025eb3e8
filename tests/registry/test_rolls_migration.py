"""Migration d1e2f3a4b5c6 (the locked-roll guard): up creates the triggers, down drops them, up again — on
SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import (
    _tmp,
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.core.test_migrations import migrate_database

PG_TRIGGERS = {
    "payment_rolls_locked_no_change",
    "payment_roll_lines_locked_no_insert",
    "payment_roll_lines_locked_no_update",
    "payment_roll_lines_locked_no_delete",
}
SQLITE_TRIGGERS = {
    "payment_rolls_locked_no_update",
    "payment_rolls_locked_no_delete",
    "payment_roll_lines_locked_no_insert",
    "payment_roll_lines_locked_no_update",
    "payment_roll_lines_locked_no_delete",
}
PG_QUERY = (
    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    " AND tgrelid IN ('payment_rolls'::regclass, 'payment_roll_lines'::regclass)"
)
SQLITE_QUERY = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'payment_roll%'"


def _triggers(url: str, query: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text(query)).scalars())
    finally:
        engine.dispose()


def _up_down_up(url: str, query: str, expected: set[str]) -> None:
    migrate_database(url, "upgrade")
    assert _triggers(url, query) == expected
    migrate_database(url, "downgrade", "7b1e0c4d2a90")
    assert _triggers(url, query) == set()
    migrate_database(url, "upgrade")
    assert _triggers(url, query) == expected


def test_guard_migration_on_sqlite():
    _up_down_up(f"sqlite:///{_tmp}/rolls_migration.db", SQLITE_QUERY, SQLITE_TRIGGERS)


@pytest.mark.postgres
def test_guard_migration_on_postgresql():
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    url = scratch_database_url(server, "relieflink_rolls_migration")
    try:
        _up_down_up(url, PG_QUERY, PG_TRIGGERS)
    finally:
        drop_postgres_database(url)
