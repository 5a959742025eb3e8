"""application conflicts: a member named in two households' open applications

Revision ID: 5e1c0a7f3b92
Revises: 99f36e339ce0
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1c0a7f3b92'
down_revision = '99f36e339ce0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('application_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program', sa.String(length=10), nullable=False),
    sa.Column('first_application_id', sa.Integer(), nullable=False),
    sa.Column('first_member_id', sa.Integer(), nullable=False),
    sa.Column('second_application_id', sa.Integer(), nullable=False),
    sa.Column('second_member_id', sa.Integer(), nullable=False),
    sa.Column('person_hash', sa.String(length=64), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_officer_id', sa.Integer(), nullable=True),
    sa.Column('chosen_application_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['chosen_application_id'], ['applications.id'], name=op.f('fk_application_conflicts_chosen_application_id_applications')),
    sa.ForeignKeyConstraint(['first_application_id'], ['applications.id'], name=op.f('fk_application_conflicts_first_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['first_member_id'], ['household_members.id'], name=op.f('fk_application_conflicts_first_member_id_household_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_officer_id'], ['officers.id'], name=op.f('fk_application_conflicts_resolved_by_officer_id_officers')),
    sa.ForeignKeyConstraint(['second_application_id'], ['applications.id'], name=op.f('fk_application_conflicts_second_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_member_id'], ['household_members.id'], name=op.f('fk_application_conflicts_second_member_id_household_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_conflicts')),
    sa.UniqueConstraint('first_application_id', 'second_application_id', 'person_hash', name='uq_application_conflicts_pair_person')
    )
    with op.batch_alter_table('application_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_conflicts_first_application_id'), ['first_application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_conflicts_second_application_id'), ['second_application_id'], unique=False)


def downgrade():
    with op.batch_alter_table('application_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_conflicts_second_application_id'))
        batch_op.drop_index(batch_op.f('ix_application_conflicts_first_application_id'))

    op.drop_table('application_conflicts')
