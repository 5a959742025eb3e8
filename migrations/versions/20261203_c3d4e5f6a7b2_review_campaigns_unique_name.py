"""review campaigns: one campaign of a name per county (uq_review_campaigns_county_name)

Starting the same campaign twice (a double click, two county officers at once) must not create two
campaigns with every task and case doubled: the database refuses the second row.

Revision ID: c3d4e5f6a7b2
Revises: a9b8c7d6e5f4
Create Date: 2026-12-03 07:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3d4e5f6a7b2'
down_revision = "a9b8c7d6e5f4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review_campaigns', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_review_campaigns_county_name', ['county_code', 'name'])


def downgrade():
    with op.batch_alter_table('review_campaigns', schema=None) as batch_op:
        batch_op.drop_constraint('uq_review_campaigns_county_name', type_='unique')
