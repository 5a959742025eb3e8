"""persons: a name index for prefix search (LIKE '王%') on PostgreSQL

``varchar_pattern_ops`` lets PostgreSQL serve ``name LIKE 'prefix%'`` from a btree in any database
collation (the plain ``ix_persons_name`` serves it only under the C collation). SQLite: nothing to do
(its LIKE is case-insensitive and ``ix_persons_name`` is what it has).

Revision ID: e5f6a7b8c9d0
Revises: d1e2f3a4b5c6
Create Date: 2026-12-03 07:35:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = "d1e2f3a4b5c6"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index(
        "ix_persons_name_pattern", "persons", ["name"], postgresql_ops={"name": "varchar_pattern_ops"}
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_persons_name_pattern", table_name="persons")
