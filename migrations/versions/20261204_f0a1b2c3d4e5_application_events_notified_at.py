"""application_events: notified_at and notice: status messages are written by a task after the commit

Revision ID: f0a1b2c3d4e5
Revises: e9f0a1b2c3d4
Create Date: 2026-12-04 01:55:00

"""

import sqlalchemy as sa
from alembic import op

import core.database

revision = "f0a1b2c3d4e5"
down_revision = "e9f0a1b2c3d4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("application_events") as batch:
        batch.add_column(sa.Column("notice", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("notified_at", core.database.UTCDateTime(), nullable=True))
    # every event before this revision had its messages written in its own transaction
    op.execute("UPDATE application_events SET notified_at = at")
    # the notify task's look-up: an application's events still to notify
    op.create_index(
        "ix_application_events_to_notify",
        "application_events",
        ["application_id"],
        postgresql_where=sa.text("notified_at IS NULL"),
        sqlite_where=sa.text("notified_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_application_events_to_notify", table_name="application_events")
    # ALTER TABLE … DROP COLUMN in place (PostgreSQL, SQLite >= 3.35), not batch mode's copy-and-drop:
    # attachments.correction_event_id names application_events rows, so dropping the table with
    # PRAGMA foreign_keys=ON fails the foreign key check
    op.drop_column("application_events", "notified_at")
    op.drop_column("application_events", "notice")
