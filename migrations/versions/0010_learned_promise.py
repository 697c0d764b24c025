"""learned promise: deliveries from before the app, the learned model per shop, the mode each order's promise used

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-30 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'past_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('order_ref', sa.String(length=64), nullable=False),
        sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('origin', sa.String(length=255), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('region', sa.String(length=16), nullable=False),
        sa.Column('zip', sa.String(length=32), nullable=False),
        sa.Column('carrier', sa.String(length=255), nullable=False),
        sa.Column('method', sa.String(length=255), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_past_deliveries_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_past_deliveries')),
        sa.UniqueConstraint('shop_id', 'order_ref', name=op.f('uq_past_deliveries_shop_id_order_ref')),
    )
    op.create_index(op.f('ix_past_deliveries_shop_id'), 'past_deliveries', ['shop_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_past_deliveries_shop_id'), table_name='past_deliveries')
    op.drop_table('past_deliveries')
