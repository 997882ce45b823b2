"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=16), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_grant_id'), ['grant_id'], unique=False)

    op.create_table('extensions',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('grant_id', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=32), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pending_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('approval_channel', sa.String(length=32), nullable=True),
    sa.Column('approval_ts', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensions'))
    )
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensions_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extensions_status_pending_until'), ['status', 'pending_until'], unique=False)

    op.create_table('grants',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('requester', sa.String(length=32), nullable=False),
    sa.Column('principal_arn', sa.String(length=2048), nullable=False),
    sa.Column('profile', sa.String(length=63), nullable=False),
    sa.Column('cluster', sa.String(length=63), nullable=False),
    sa.Column('namespace', sa.String(length=63), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pending_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=32), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.Column('end_detail', sa.Text(), nullable=True),
    sa.Column('k8s_username', sa.String(length=512), nullable=True),
    sa.Column('mapping_applied', sa.Boolean(), nullable=False),
    sa.Column('rbac_applied', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('approval_channel', sa.String(length=32), nullable=True),
    sa.Column('approval_ts', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grants'))
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_principal_arn_cluster_status'), ['principal_arn', 'cluster', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_requester_status'), ['requester', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_status_expires_at'), ['status', 'expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_status_expires_at'))
        batch_op.drop_index(batch_op.f('ix_grants_requester_status'))
        batch_op.drop_index(batch_op.f('ix_grants_principal_arn_cluster_status'))

    op.drop_table('grants')
    with op.batch_alter_table('extensions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensions_status_pending_until'))
        batch_op.drop_index(batch_op.f('ix_extensions_grant_id'))

    op.drop_table('extensions')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_grant_id'))

    op.drop_table('audit_events')
