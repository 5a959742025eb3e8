"""applications: the head of the authorization evidence chain (length + hash of the last record)

``flask authorizations verify`` compares the chain with this head, so records deleted from
``authorization_evidence`` (a DELETE, a restore of an older dump of that table, a careless downgrade)
are reported instead of verifying as a shorter intact chain. Existing applications get the head of
the chain they have now: the last record's sequence and hash.

Revision ID: b1c2d3e4f5a6
Revises: f7a8b9c0d1e2
Create Date: 2026-12-03 08:30:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "b1c2d3e4f5a6"
down_revision = "f7a8b9c0d1e2"
branch_labels = None
depends_on = None


# plain SQL, valid on SQLite and PostgreSQL; the version column is left alone (no edit conflict)
FILL_HEADS = """
UPDATE applications SET
    evidence_length = (
        SELECT MAX(e.sequence) FROM authorization_evidence e WHERE e.application_id = applications.id
    ),
    evidence_head = (
        SELECT e.record_hash FROM authorization_evidence e WHERE e.application_id = applications.id
        ORDER BY e.sequence DESC LIMIT 1
    )
WHERE EXISTS (SELECT 1 FROM authorization_evidence e WHERE e.application_id = applications.id)
"""


def upgrade():
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(sa.Column("evidence_length", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("evidence_head", sa.String(length=64), nullable=True))
    op.execute(FILL_HEADS)


def downgrade():
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_column("evidence_head")
        batch_op.drop_column("evidence_length")
