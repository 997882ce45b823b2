"""outbox: every Slack message the bot owes, written with the state change that causes it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa



revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('grant_id', sa.String(length=16), nullable=False),
        sa.Column('extension_id', sa.String(length=16), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('given_up_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )
    op.create_index(
        op.f('ix_outbox_delivered_at_given_up_at_due_at'),
        'outbox',
        ['delivered_at', 'given_up_at', 'due_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_delivered_at_given_up_at_due_at'), table_name='outbox')
    op.drop_table('outbox')
