"""officer desk: digest channel per officer, portal inbox (notifications), home-visit photos and signatures

Revision ID: 03bc50b14cc5
Revises: 3b7d2f9a1c05
Create Date: 2026-11-24 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '03bc50b14cc5'
down_revision = '3b7d2f9a1c05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('portal_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.String(length=1000), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_portal_notifications_officer_id_officers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_messages.id'], name=op.f('fk_portal_notifications_outbox_message_id_outbox_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_notifications')),
    sa.UniqueConstraint('outbox_message_id', name=op.f('uq_portal_notifications_outbox_message_id'))
    )
    with op.batch_alter_table('portal_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_portal_notifications_officer_read', ['officer_id', 'read_at'], unique=False)

    op.create_table('case_step_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by_officer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['case_steps.id'], name=op.f('fk_case_step_files_step_id_case_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_officer_id'], ['officers.id'], name=op.f('fk_case_step_files_uploaded_by_officer_id_officers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_step_files')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_case_step_files_storage_key'))
    )
    with op.batch_alter_table('case_step_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_step_files_step_id'), ['step_id'], unique=False)

    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_channel', sa.String(length=10), server_default='inbox', nullable=False))
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('wechat_openid', sa.String(length=64), nullable=True))



def downgrade():
    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.drop_column('wechat_openid')
        batch_op.drop_column('phone')
        batch_op.drop_column('digest_channel')

    with op.batch_alter_table('case_step_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_step_files_step_id'))

    op.drop_table('case_step_files')
    with op.batch_alter_table('portal_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_portal_notifications_officer_read')

    op.drop_table('portal_notifications')
