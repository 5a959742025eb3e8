"""ID numbers at rest: every readable ID number column becomes encrypted + keyed blind indexes (core.pii)

users.id_number, identities.id_number, identity_verifications.claimed_id_number,
household_members.id_number, applications.applicant_id_number, authorization_requests.member_id_number and
reports.person_id_number each become ``<name>_enc`` (Fernet token), ``<name>_bidx`` (HMAC of the number:
exact look-up, uniqueness) and ``<name>_l4`` (HMAC of its last four). Existing rows are converted in
batches with the application's own key (DATA_ENCRYPTION_KEY, or the one derived from SECRET_KEY; the
migration runs inside the app, see migrations/env.py); the downgrade decrypts them back.

idempotency_records.response_body (the stored response a retry replays; an application's carries its
members' numbers) is encrypted as a whole (core.crypto.encrypt_bytes); the downgrade decrypts it.

reference_portraits.id_number_hash is already a keyed HMAC (core.crypto.token_hash) and stays.

Revision ID: f7a8b9c0d1e2
Revises: e5f6a7b8c9d0
Create Date: 2026-12-03 07:40:00.000000

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

from core import crypto, pii

# revision identifiers, used by Alembic.
revision = "f7a8b9c0d1e2"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None

BATCH = 1000

# (table, column, nullable, old index or unique constraint: (kind, name, columns))
COLUMNS = [
    ("users", "id_number", True, ("index", "ix_users_id_number", ["id_number"])),
    ("identities", "id_number", False, ("unique", "uq_identities_id_number", ["id_number"])),
    (
        "identity_verifications",
        "claimed_id_number",
        False,
        ("index", "ix_identity_verifications_number", ["claimed_id_number"]),
    ),
    ("household_members", "id_number", True, ("index", "ix_household_members_id_number", ["id_number"])),
    (
        "applications",
        "applicant_id_number",
        True,
        ("index", "ix_applications_applicant_id_number", ["applicant_id_number"]),
    ),
    (
        "authorization_requests",
        "member_id_number",
        False,
        ("index", "ix_authorization_requests_app_member", ["application_id", "member_id_number"]),
    ),
    ("reports", "person_id_number", True, ("index", "ix_reports_person_id_number", ["person_id_number"])),
]
UNIQUE_BIDX = {"identities"}
COMPOSITE = {"authorization_requests": ("ix_authorization_requests_app_member", ["application_id"])}


def _use_app_key() -> None:
    """Encrypt with exactly the key the application uses (core.setup does the same at start-up)."""
    crypto.configure(current_app.config.get("DATA_ENCRYPTION_KEY"), current_app.config["SECRET_KEY"])


def _rows(table: sa.Table, column: str):
    """(id, value) of every row with a value, in batches by id (keyset pagination)."""
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(table.c.id, table.c[column])
            .where(table.c.id > last, table.c[column].is_not(None))
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _encrypt_rows(table_name: str, column: str) -> None:
    table = sa.table(
        table_name,
        sa.column("id", sa.Integer),
        sa.column(column, sa.String),
        sa.column(f"{column}_enc", sa.String),
        sa.column(f"{column}_bidx", sa.String),
        sa.column(f"{column}_l4", sa.String),
    )
    stmt = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            {
                f"{column}_enc": sa.bindparam("enc"),
                f"{column}_bidx": sa.bindparam("bidx"),
                f"{column}_l4": sa.bindparam("l4"),
            }
        )
    )
    for batch in _rows(table, column):
        # The token holds the stored text exactly (the downgrade gives it back byte for byte); the
        # indexes normalise as core.pii does for every look-up.
        params = [
            {"row_id": i, "enc": crypto.encrypt(v), "bidx": pii.blind_index(v), "l4": pii.last4_index(v)}
            for i, v in batch
        ]
        op.get_bind().execute(stmt, params)


def _decrypt_rows(table_name: str, column: str) -> None:
    table = sa.table(
        table_name, sa.column("id", sa.Integer), sa.column(column, sa.String), sa.column(f"{column}_enc", sa.String)
    )
    stmt = table.update().where(table.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("plain")})
    for batch in _rows(table, f"{column}_enc"):
        op.get_bind().execute(stmt, [{"row_id": i, "plain": pii.decrypt_id(token)} for i, token in batch])


def _convert_response_bodies(convert) -> None:
    table = sa.table("idempotency_records", sa.column("id", sa.Integer), sa.column("response_body", sa.LargeBinary))
    stmt = table.update().where(table.c.id == sa.bindparam("row_id")).values(response_body=sa.bindparam("body"))
    for batch in _rows(table, "response_body"):
        rows = [{"row_id": i, "body": convert(bytes(body))} for i, body in batch if body]
        if rows:
            op.get_bind().execute(stmt, rows)


def _sqlite_foreign_keys(on: bool) -> None:
    """SQLite rebuilds a table to drop a column (batch mode): rows of other tables that reference it
    (users, applications) would refuse the DROP TABLE, so foreign keys are off while it runs and checked
    after. The pragma is a no-op inside a transaction: it runs in an autocommit block (it must really come
    back on: the app's pooled connection would otherwise lose ON DELETE CASCADE)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    with op.get_context().autocommit_block():
        bind.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    state = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert state == (1 if on else 0), f"PRAGMA foreign_keys did not change (now {state})"
    if on:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        assert not broken, f"foreign keys broken by the rebuild: {broken[:5]}"


def upgrade():
    _use_app_key()
    _sqlite_foreign_keys(False)
    _convert_response_bodies(crypto.encrypt_bytes)
    for table, column, nullable, (kind, name, _) in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(f"{column}_enc", sa.String(length=pii.ENC_LENGTH), nullable=True))
            batch_op.add_column(sa.Column(f"{column}_bidx", sa.String(length=pii.INDEX_LENGTH), nullable=True))
            batch_op.add_column(sa.Column(f"{column}_l4", sa.String(length=pii.INDEX_LENGTH), nullable=True))
        _encrypt_rows(table, column)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if kind == "unique":
                batch_op.drop_constraint(name, type_="unique")
            else:
                batch_op.drop_index(name)
            batch_op.drop_column(column)
            if not nullable:
                for suffix, length in (("enc", pii.ENC_LENGTH), ("bidx", pii.INDEX_LENGTH), ("l4", pii.INDEX_LENGTH)):
                    batch_op.alter_column(f"{column}_{suffix}", existing_type=sa.String(length=length), nullable=False)
            if table in UNIQUE_BIDX:
                batch_op.create_unique_constraint(f"uq_{table}_{column}_bidx", [f"{column}_bidx"])
            else:
                batch_op.create_index(f"ix_{table}_{column}_bidx", [f"{column}_bidx"], unique=False)
            batch_op.create_index(f"ix_{table}_{column}_l4", [f"{column}_l4"], unique=False)
            if table in COMPOSITE:
                index_name, leading = COMPOSITE[table]
                batch_op.create_index(index_name, [*leading, f"{column}_bidx"], unique=False)
    _sqlite_foreign_keys(True)


def downgrade():
    _use_app_key()
    _sqlite_foreign_keys(False)
    _convert_response_bodies(crypto.decrypt_bytes)
    for table, column, nullable, (kind, name, old_columns) in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.String(length=18), nullable=True))
        _decrypt_rows(table, column)
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in COMPOSITE:
                batch_op.drop_index(COMPOSITE[table][0])
            batch_op.drop_index(f"ix_{table}_{column}_l4")
            if table in UNIQUE_BIDX:
                batch_op.drop_constraint(f"uq_{table}_{column}_bidx", type_="unique")
            else:
                batch_op.drop_index(f"ix_{table}_{column}_bidx")
            for suffix in ("enc", "bidx", "l4"):
                batch_op.drop_column(f"{column}_{suffix}")
            if not nullable:
                batch_op.alter_column(column, existing_type=sa.String(length=18), nullable=False)
            if kind == "unique":
                batch_op.create_unique_constraint(name, old_columns)
            else:
                batch_op.create_index(name, old_columns, unique=False)
    _sqlite_foreign_keys(True)
