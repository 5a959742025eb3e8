"""The migration f7a8b9c0d1e2 on a database with rows: readable ID numbers become encrypted columns with
keyed blind indexes (look-ups through the models work), and the downgrade gives back the exact text."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, MetaData, Numeric, String, Text, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON, LargeBinary

from core import crypto
from core.accounts.models import User
from core.applications.models import Application
from core.authorizations.models import AuthorizationRequest
from core.households.models import HouseholdMember
from core.idempotency.models import IdempotencyRecord
from core.identity.models import Identity, IdentityVerification
from core.reports.models import Report
from tests.conftest import (
    drop_postgres_database,
    postgres_reachable,
    postgres_server_url,
    scratch_database_url,
    unavailable,
)
from tests.core.test_migrations import migrate_database
from tests.helpers import id_number

BEFORE = "7b1e0c4d2a90"
REVISION = "f7a8b9c0d1e2"
N = [id_number(date(1950 + k, 1 + k % 12, 1 + k), 100 + k) for k in range(8)]
# (table, plaintext column) for every column the migration converts
PLAIN = [
    ("users", "id_number"),
    ("identities", "id_number"),
    ("identity_verifications", "claimed_id_number"),
    ("household_members", "id_number"),
    ("applications", "applicant_id_number"),
    ("authorization_requests", "member_id_number"),
    ("reports", "person_id_number"),
]
READABLE_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
RESPONSE = json.dumps({"members": [{"id_number": N[3]}]}).encode()


def _filler(column, n: int):
    """A value for a NOT NULL column the test does not care about."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return datetime(2026, 11, 30, 8, 0)
    if isinstance(kind, Date):
        return date(2026, 11, 30)
    if isinstance(kind, Numeric):
        return Decimal("0")
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b"x"
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 30
        return f"{column.name[:6]}{n}"[:length]
    raise AssertionError(f"no filler for {column.table.name}.{column.name} {kind!r}")


def _insert(conn, meta: MetaData, table_name: str, values: dict, n: int) -> int:
    table = meta.tables[table_name]
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.primary_key or column.nullable or column.server_default is not None:
            continue
        row[column.name] = _filler(column, n)
    return conn.execute(table.insert().values(row).returning(table.c.id)).scalar_one() if "id" in table.c else 0


def _seed(engine) -> dict[tuple[str, str], dict[int, str]]:
    """One row per converted column (two members), each holding a readable number; returns what is stored."""
    meta = MetaData()
    meta.reflect(engine)
    stored: dict[tuple[str, str], dict[int, str]] = {key: {} for key in PLAIN}
    with engine.begin() as conn:
        conn.execute(
            meta.tables["regions"].insert().values(code="360124100", name="民和镇", level="township", parent_code=None)
        )
        user = _insert(conn, meta, "users", {"id_number": N[0], "phone": "13900080000", "real_name": "张建国"}, 1)
        plain_user = _insert(conn, meta, "users", {"phone": "13900080001"}, 2)  # unverified: no number
        stored["users", "id_number"] = {user: N[0], plain_user: None}
        ident = _insert(conn, meta, "identities", {"id_number": N[0], "real_name": "张建国"}, 1)
        stored["identities", "id_number"][ident] = N[0]
        claim = _insert(
            conn, meta, "identity_verifications", {"user_id": user, "claimed_id_number": N[0], "claimed_name": "张"}, 1
        )
        stored["identity_verifications", "claimed_id_number"][claim] = N[0]
        app_id = _insert(
            conn,
            meta,
            "applications",
            {"applicant_id_number": N[0], "created_by_user_id": user, "residence_township_code": "360124100"},
            1,
        )
        draft = _insert(conn, meta, "applications", {"applicant_id_number": None}, 2)
        stored["applications", "applicant_id_number"] = {app_id: N[0], draft: None}
        for k, number in enumerate([N[0], N[1], N[2].lower()], start=1):  # a draft member typed a lower-case x
            member = _insert(conn, meta, "household_members", {"application_id": app_id, "id_number": number}, k)
            stored["household_members", "id_number"][member] = number
        for k, number in enumerate([N[0], N[1]], start=1):
            request = _insert(
                conn,
                meta,
                "authorization_requests",
                {"application_id": app_id, "member_id_number": number, "member_name": f"成员{k}"},
                k,
            )
            stored["authorization_requests", "member_id_number"][request] = number
        report = _insert(
            conn,
            meta,
            "reports",
            {"person_id_number": N[4], "reporter_user_id": user, "township_code": "360124100", "person_name": "刘"},
            1,
        )
        stored["reports", "person_id_number"][report] = N[4]
        _insert(conn, meta, "idempotency_records", {"response_body": RESPONSE, "state": "completed"}, 1)
    return stored


def _readable(engine) -> list[tuple[str, str, str]]:
    meta = MetaData()
    meta.reflect(engine)
    found = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for name, value in row.items():
                    text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                    found += [(table.name, name, hit) for hit in READABLE_ID.findall(text)]
    return found


def _database(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/pii_migration.db"
    server = postgres_server_url()
    if not postgres_reachable(server):
        unavailable(f"PostgreSQL not reachable at {server}")
    return scratch_database_url(server, "rl_pii_migration")


@pytest.mark.parametrize("kind", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_upgrade_encrypts_every_id_number_and_downgrade_restores_it(app, kind, tmp_path):
    url = _database(kind, tmp_path)
    engine = create_engine(url)
    try:
        migrate_database(url, "upgrade", BEFORE)
        stored = _seed(engine)
        assert {hit for _, _, hit in _readable(engine)} >= {N[0], N[1], N[4]}

        migrate_database(url, "upgrade", REVISION)
        engine.dispose()
        assert _readable(engine) == []
        # The app's key (the same configuration as the migration's process) reads and finds every row.
        with app.app_context(), Session(engine) as session:
            user = session.scalar(select(User).where(User.id_number == N[0]))
            assert user.real_name == "张建国" and user.id_number == N[0]
            assert session.scalar(select(Identity).where(Identity.id_number == N[0])).real_name == "张建国"
            claim = session.scalar(select(IdentityVerification).where(IdentityVerification.claimed_id_number == N[0]))
            assert claim.claimed_name == "张"
            # the id only: later migrations add columns to applications that this revision has not
            application_id = session.scalar(select(Application.id).where(Application.applicant_id_number == N[0]))
            members = session.scalars(
                select(HouseholdMember).where(HouseholdMember.id_number.in_([N[1], N[2]])).order_by(HouseholdMember.id)
            ).all()
            assert [m.id_number for m in members] == [N[1], N[2].lower()]  # the stored text, found by the index
            assert all(m.application_id == application_id for m in members)
            request = session.scalar(
                select(AuthorizationRequest).where(
                    AuthorizationRequest.application_id == application_id,
                    AuthorizationRequest.member_id_number == N[1],
                )
            )
            assert request.member_name == "成员2"
            assert session.scalar(select(Report).where(Report.person_id_number == N[4])).person_name == "刘"
            assert session.scalar(select(User).where(User.id_number.is_(None))).phone == "13900080001"
            body = session.execute(select(IdempotencyRecord.response_body)).scalar_one()
            assert crypto.decrypt_bytes(bytes(body)) == RESPONSE

        migrate_database(url, "downgrade", BEFORE)
        engine.dispose()
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for (table_name, column), rows in stored.items():
                table = meta.tables[table_name]
                back = dict(conn.execute(select(table.c.id, table.c[column])).all())
                assert back == rows, (table_name, column)
                assert not any(c.name.startswith(f"{column}_") for c in table.columns)
            body = conn.execute(select(meta.tables["idempotency_records"].c.response_body)).scalar_one()
            assert bytes(body) == RESPONSE
    finally:
        engine.dispose()
        if kind == "postgresql":
            drop_postgres_database(url)
