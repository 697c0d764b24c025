"""history backfills: each read of a shop's past orders from Shopify (bulk query) and what came of it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'history_backfills',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('operation_id', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error', sa.String(length=255), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_history_backfills_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_history_backfills')),
        sa.UniqueConstraint('operation_id', name=op.f('uq_history_backfills_operation_id')),
    )
    op.create_index(op.f('ix_history_backfills_shop_id'), 'history_backfills', ['shop_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_history_backfills_shop_id'), table_name='history_backfills')
    op.drop_table('history_backfills')
