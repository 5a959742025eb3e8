"""applications.created_by_identity_id: ownership follows the verified person

An application belongs to the person (core.identity) its creating log-in acted for, so a log-in re-bound to
another ID number no longer reaches the old person's applications, and every linked log-in reaches them.
Existing rows take the creating log-in's current identity.

Revision ID: 3f9c2a7d1b64
Revises: 03bc50b14cc5
Create Date: 2026-11-24 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f9c2a7d1b64'
down_revision = '03bc50b14cc5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_identity_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_applications_created_by_identity_id'), ['created_by_identity_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_applications_created_by_identity_id_identities'),
            'identities',
            ['created_by_identity_id'],
            ['id'],
        )
    op.execute(
        "UPDATE applications SET created_by_identity_id = "
        "(SELECT users.identity_id FROM users WHERE users.id = applications.created_by_user_id) "
        "WHERE created_by_user_id IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_created_by_identity_id_identities'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_applications_created_by_identity_id'))
        batch_op.drop_column('created_by_identity_id')
