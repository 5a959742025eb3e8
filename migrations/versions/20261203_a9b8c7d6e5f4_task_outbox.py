"""task outbox, outbox_messages.claimed_at: tasks written in the transaction of the change, published after commit and by the relay

Revision ID: a9b8c7d6e5f4
Revises: 7b1e0c4d2a90
Create Date: 2026-12-03 07:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a9b8c7d6e5f4"
down_revision = "7b1e0c4d2a90"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "task_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_outbox")),
    )
    with op.batch_alter_table("task_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_task_outbox_status_created", ["status", "created_at"], unique=False)
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
    with op.batch_alter_table("task_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_task_outbox_status_created")
    op.drop_table("task_outbox")
