"""Test set-up: a real database (SQLite file by default, PostgreSQL when DATABASE_URL says so),
migrated with Alembic once per run and emptied between tests.

Environment:
- DATABASE_URL: postgresql+psycopg://... runs the whole suite on PostgreSQL (a database of that
  name is dropped and created); unset = a SQLite file in a temporary directory.
- TEST_POSTGRES_URL: server used by the PostgreSQL-only tests (migrations up/down, audit trigger)
  when the suite itself runs on SQLite. Default postgresql+psycopg://postgres@127.0.0.1:5432/postgres.
- CELERY_BROKER_URL / TEST_REDIS_URL: broker for the real-worker tests (default redis://127.0.0.1:6379/15).
- CI=true: a missing PostgreSQL, Redis or chromium fails those tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"

# This module may be imported twice (as pytest's ``conftest`` and as ``tests.conftest`` by test modules):
# the environment is set up once per process, so a second import never re-creates the test database.
_FIRST_IMPORT = "RELIEFLINK_TEST_ENV" not in os.environ
if _FIRST_IMPORT:
    os.environ["RELIEFLINK_TEST_ENV"] = tempfile.mkdtemp(prefix="relieflink-test-")
    os.environ["RELIEFLINK_TEST_REQUESTED_DB"] = os.environ.get("DATABASE_URL", "")
    os.environ["RELIEFLINK_TEST_REQUESTED_BROKER"] = os.environ.get("CELERY_BROKER_URL", "")
_tmp = os.environ["RELIEFLINK_TEST_ENV"]
_requested_db = os.environ["RELIEFLINK_TEST_REQUESTED_DB"]
_requested_broker = os.environ["RELIEFLINK_TEST_REQUESTED_BROKER"]
os.environ["APP_ENV"] = "testing"
os.environ["STORAGE_DIR"] = os.path.join(_tmp, "storage")
os.environ.pop("CELERY_BROKER_URL", None)  # in-request tasks run eagerly; worker tests use a real broker
if not _requested_db:
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/test.db"

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or _requested_broker or "redis://127.0.0.1:6379/15"


def unavailable(reason: str) -> None:
    """Skip with a stated reason, or fail in CI where every real part must be there."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def recreate_postgres_database(url: str) -> str:
    """Drop and create the database named in ``url`` (via the server's postgres database)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    name = parsed.database
    assert name and re.match(r"^[a-z0-9_]+$", name), f"unsafe test database name {name!r}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


RUN_ID = os.environ.get("TEST_RUN_ID") or str(os.getpid())


def scratch_database_url(server: str, base: str) -> str:
    """A per-run database name on ``server`` (two runs on one server never drop each other's)."""
    return recreate_postgres_database(server.rsplit("/", 1)[0] + f"/{base}_{RUN_ID}")


def drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def postgres_server_url() -> str:
    if _requested_db.startswith("postgresql"):
        return _requested_db
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_engine(make_url(url).set(database="postgres"), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


if _requested_db.startswith("postgresql") and _FIRST_IMPORT:
    os.environ["DATABASE_URL"] = recreate_postgres_database(_requested_db)

from core import clock  # noqa: E402
from core.database import db  # noqa: E402
from core.regions import services as region_services  # noqa: E402
from web.limiter import limiter  # noqa: E402
from wsgi import activate, create_app  # noqa: E402

KEEP_TABLES = {"regions", "alembic_version"}


@pytest.fixture(scope="session")
def app():
    from flask_migrate import upgrade

    application = create_app("testing")
    with application.app_context():
        upgrade()
        region_services.load_demo_regions()
        # A second county of the same city (real codes), for cross-county checks.
        region_services.upsert_regions(
            [
                {"code": "360121", "name": "南昌县", "level": "county", "parent_code": "3601"},
                {"code": "360121100", "name": "莲塘镇", "level": "township", "parent_code": "360121"},
            ]
        )
        db.session.commit()
    return application


def _empty_tables(application) -> None:
    with application.app_context():
        engine = db.engine
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                # The audit log and locked payment rolls refuse DELETE by trigger: lift them for the clean-up only.
                triggers = conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type='trigger'"
                        " AND tbl_name IN ('audit_log', 'payment_rolls', 'payment_roll_lines')"
                    )
                ).all()
                for name, _ in triggers:
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                for table in tables:
                    conn.execute(table.delete())
                if inspect(conn).has_table("sqlite_sequence"):
                    conn.execute(text("DELETE FROM sqlite_sequence"))
                for _, sql in triggers:
                    conn.execute(text(sql))
        db.session.remove()


@pytest.fixture(autouse=True)
def _clean(app) -> Iterator[None]:
    yield
    clock.set_offset(__import__("datetime").timedelta(0))
    limiter.reset()
    # a test that built a second app (another database, a broker that is down) made its Celery and dispatcher
    # current: switch back, or the next test's in-process tasks would run against that app's database
    activate(app)
    _empty_tables(app)
    region_services.clear_cache()  # a test may have changed regions behind the ORM


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()
