"""users.alipay_user_id: Alipay log-in binds the Alipay user id to an account

Revision ID: 3b7d2f9a1c05
Revises: ae82875aec85
Create Date: 2026-11-24 06:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3b7d2f9a1c05"
down_revision = "ae82875aec85"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alipay_user_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_alipay_user_id"), ["alipay_user_id"])


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_alipay_user_id"), type_="unique")
        batch_op.drop_column("alipay_user_id")
