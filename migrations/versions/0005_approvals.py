"""grants: approvals collected (quorum), reminders, break-glass and its acknowledgement

`approvals`: who approved so far, space-separated (a request needing several approvers is
approved by the vote that completes it). `reminded_at`: the last reminder of a pending
request. `break_glass`, `acknowledged_by/at`, `alert_channel/ts`: a grant applied at once by
break-glass, the approver who acknowledged it, and its announcement in the alert channel.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approvals', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('break_glass', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('alert_channel', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('alert_ts', sa.String(length=32), nullable=True))
    # A request approved before quorums existed was approved by its one decider.
    op.execute(
        "UPDATE grants SET approvals = decided_by WHERE decided_by IS NOT NULL "
        "AND status NOT IN ('pending', 'denied', 'timed_out', 'cancelled') "
        "AND decided_by <> 'system'"
    )


def downgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        for column in (
            'alert_ts',
            'alert_channel',
            'acknowledged_at',
            'acknowledged_by',
            'break_glass',
            'reminded_at',
            'approvals',
        ):
            batch_op.drop_column(column)
