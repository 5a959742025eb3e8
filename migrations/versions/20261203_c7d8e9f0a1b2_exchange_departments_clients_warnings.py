"""exchange: departments, API clients, request nonces, death/cremation events; warnings

Revision ID: c7d8e9f0a1b2
Revises: b1c2d3e4f5a6
Create Date: 2026-12-03 14:53:57.835925

"""

import sqlalchemy as sa
from alembic import op

import core.database


# revision identifiers, used by Alembic.
revision = "c7d8e9f0a1b2"
down_revision = "b1c2d3e4f5a6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exchange_departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_exchange_departments_code")),
    )
    with op.batch_alter_table("exchange_departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_departments_region_code"), ["region_code"], unique=False)

    op.create_table(
        "exchange_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("secret_enc", sa.String(length=300), nullable=False),
        sa.Column("previous_secret_enc", sa.String(length=300), nullable=True),
        sa.Column("previous_valid_until", core.database.UTCDateTime(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(), nullable=False),
        sa.Column("rotated_at", core.database.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", core.database.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", core.database.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["exchange_departments.id"],
            name=op.f("fk_exchange_clients_department_id_exchange_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_clients")),
        sa.UniqueConstraint("key_id", name=op.f("uq_exchange_clients_key_id")),
    )
    with op.batch_alter_table("exchange_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_clients_department_id"), ["department_id"], unique=False)

    op.create_table(
        "exchange_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("id_number_enc", sa.String(length=200), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("id_number_l4", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("matched_enrollments", sa.Integer(), nullable=False),
        sa.Column("received_at", core.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["exchange_clients.id"], name=op.f("fk_exchange_events_client_id_exchange_clients")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["exchange_departments.id"],
            name=op.f("fk_exchange_events_department_id_exchange_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_events")),
        sa.UniqueConstraint("client_id", "event_id", name="uq_exchange_events_client_event"),
    )
    with op.batch_alter_table("exchange_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_events_id_number_bidx"), ["id_number_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_exchange_events_id_number_l4"), ["id_number_l4"], unique=False)
        batch_op.create_index("ix_exchange_events_received", ["received_at"], unique=False)

    op.create_table(
        "exchange_nonces",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", core.database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["exchange_clients.id"], name=op.f("fk_exchange_nonces_client_id_exchange_clients")
        ),
        sa.PrimaryKeyConstraint("client_id", "nonce", name=op.f("pk_exchange_nonces")),
    )
    with op.batch_alter_table("exchange_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_nonces_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("reason_label", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.Column("id_number_enc", sa.String(length=200), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("id_number_l4", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("township_code", sa.String(length=12), nullable=False),
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("event_date", sa.Date(), nullable=True),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", core.database.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", core.database.UTCDateTime(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=20), nullable=True),
        sa.Column("disposition_note", sa.String(length=500), nullable=True),
        sa.Column("disposed_by_officer_id", sa.Integer(), nullable=True),
        sa.Column("disposed_at", core.database.UTCDateTime(), nullable=True),
        sa.Column("arrears_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_warnings_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["disposed_by_officer_id"], ["officers.id"], name=op.f("fk_warnings_disposed_by_officer_id_officers")
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollments.id"], name=op.f("fk_warnings_enrollment_id_enrollments")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["registry_households.id"], name=op.f("fk_warnings_household_id_registry_households")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_warnings_person_id_persons")),
        sa.ForeignKeyConstraint(["township_code"], ["regions.code"], name=op.f("fk_warnings_township_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
        sa.UniqueConstraint("open_key", name=op.f("uq_warnings_open_key")),
    )
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warnings_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_warnings_county_status_reason", ["county_code", "status", "reason"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_enrollment_id"), ["enrollment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_id_number_bidx"), ["id_number_bidx"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_id_number_l4"), ["id_number_l4"], unique=False)
        batch_op.create_index(batch_op.f("ix_warnings_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_warnings_township_status", ["township_code", "status"], unique=False)
        batch_op.create_index(
            "ix_warnings_bidx_reason", ["id_number_bidx", "reason", "fingerprint"], unique=False
        )


def downgrade():
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.drop_index("ix_warnings_bidx_reason")
        batch_op.drop_index("ix_warnings_township_status")
        batch_op.drop_index(batch_op.f("ix_warnings_person_id"))
        batch_op.drop_index(batch_op.f("ix_warnings_id_number_l4"))
        batch_op.drop_index(batch_op.f("ix_warnings_id_number_bidx"))
        batch_op.drop_index(batch_op.f("ix_warnings_enrollment_id"))
        batch_op.drop_index("ix_warnings_county_status_reason")
        batch_op.drop_index(batch_op.f("ix_warnings_case_id"))

    op.drop_table("warnings")
    with op.batch_alter_table("exchange_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_nonces_seen_at"))

    op.drop_table("exchange_nonces")
    with op.batch_alter_table("exchange_events", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_events_received")
        batch_op.drop_index(batch_op.f("ix_exchange_events_id_number_l4"))
        batch_op.drop_index(batch_op.f("ix_exchange_events_id_number_bidx"))

    op.drop_table("exchange_events")
    with op.batch_alter_table("exchange_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_clients_department_id"))

    op.drop_table("exchange_clients")
    with op.batch_alter_table("exchange_departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_departments_region_code"))

    op.drop_table("exchange_departments")
