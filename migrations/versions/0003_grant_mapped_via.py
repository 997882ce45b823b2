"""grants.mapped_via replaces the write-only mapping_applied/rbac_applied flags

Which mapping gives an active grant its username: the bot's aws-auth entry, the bot's access
entry, or an existing mapping the bot does not own. Reconcile puts back only the bot's own.
Grants activated before access entries existed were mapped through aws-auth; a username the
bot did not write (not `eks-access:…`) came from an existing mapping.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapped_via', sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE grants SET mapped_via = CASE WHEN k8s_username LIKE 'eks-access:%' "
        "THEN 'aws-auth' ELSE 'existing' END WHERE k8s_username IS NOT NULL"
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('mapping_applied')
        batch_op.drop_column('rbac_applied')


def downgrade() -> None:
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('rbac_applied', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('mapping_applied', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE grants SET mapping_applied = true, rbac_applied = true "
        "WHERE mapped_via IS NOT NULL"
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_column('mapped_via')
