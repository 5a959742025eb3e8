"""A least-privilege PostgreSQL role for the running app.

The tables belong to the role that runs the migrations (the owner). The app connects as another role
that may read and write rows and nothing else: it owns no table, so TRUNCATE, ALTER TABLE (… DISABLE
TRIGGER) and DROP fail for it, and on the audit log it may only INSERT and SELECT. See
docs/deployment.md.
"""

from __future__ import annotations

import re

from sqlalchemy import String, text
from sqlalchemy.engine import Connection

APPEND_ONLY_TABLES = ("audit_log",)  # INSERT + SELECT only
READ_ONLY_TABLES = ("alembic_version",)  # the app reads the schema version, never writes it
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleSetupError(RuntimeError):
    """The role cannot be set up as asked (wrong database, unsafe role, schema not migrated)."""


def app_role_statements(conn: Connection, role: str, password: str | None = None) -> list[str]:
    """The statements that create ``role`` (if missing) and grant it exactly what the app needs.

    Idempotent: every run revokes the table privileges and grants them again, so a re-run after
    ``flask db upgrade`` also covers new tables.
    """
    if conn.dialect.name != "postgresql":
        raise RoleSetupError("database roles exist on PostgreSQL only")
    if not ROLE_NAME.match(role):
        raise RoleSetupError("role name: lower-case letters, digits and _ only, at most 63 characters")
    owner, database = conn.execute(text("SELECT current_user, current_database()")).one()
    if role == owner:
        raise RoleSetupError(f"the app role must not be the owner of the tables ({owner})")
    existing = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if existing is not None and existing.rolsuper:
        raise RoleSetupError(f"role {role} is a superuser: a superuser bypasses every privilege")
    tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    missing = [t for t in (*APPEND_ONLY_TABLES, *READ_ONLY_TABLES) if t not in tables]
    if missing:
        raise RoleSetupError(f"tables {', '.join(missing)} not found: run `flask db upgrade` (as the owner) first")

    quote = conn.dialect.identifier_preparer.quote
    r, db = quote(role), quote(database)
    statements = []
    if existing is None:
        statements.append(f"CREATE ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION")
    if password:
        literal = String().literal_processor(conn.dialect)(password)
        statements.append(f"ALTER ROLE {r} PASSWORD {literal}")
    statements += [
        f"GRANT CONNECT ON DATABASE {db} TO {r}",
        # PostgreSQL < 15 lets everyone create tables in "public"; nobody but the owner should
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE CREATE ON SCHEMA public FROM {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        *(f"REVOKE UPDATE, DELETE ON {quote(t)} FROM {r}" for t in APPEND_ONLY_TABLES),
        *(f"REVOKE INSERT, UPDATE, DELETE ON {quote(t)} FROM {r}" for t in READ_ONLY_TABLES),
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {r}",
        # tables a later migration creates (as this owner) are usable before the next re-run
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {r}",
    ]
    return statements


def grant_app_role(conn: Connection, role: str, password: str | None = None) -> list[str]:
    """Run :func:`app_role_statements` in the caller's transaction; returns them, password masked."""
    statements = app_role_statements(conn, role, password)
    for statement in statements:
        conn.exec_driver_sql(statement)
    return [re.sub(r"PASSWORD '.*'$", "PASSWORD '…'", s, flags=re.S) for s in statements]
