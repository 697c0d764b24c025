"""returns: returns as Shopify tells them, the customer requests the app sent, product types

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'returns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('shopify_id', sa.BigInteger(), nullable=False),
        sa.Column('order_shopify_id', sa.BigInteger(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'shopify_id'),
    )
    op.create_index('ix_returns_shop_id', 'returns', ['shop_id'])
    op.create_index('ix_returns_shop_order', 'returns', ['shop_id', 'order_shopify_id'])
    op.create_table(
        'return_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('order_shopify_id', sa.BigInteger(), nullable=False),
        sa.Column('customer_id', sa.BigInteger(), nullable=False),
        sa.Column('request_key', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('return_gid', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'request_key'),
    )
    op.create_index('ix_return_requests_shop_id', 'return_requests', ['shop_id'])
    with op.batch_alter_table('products') as batch:
        batch.add_column(sa.Column('product_type', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('products') as batch:
        batch.drop_column('product_type')
    op.drop_index('ix_return_requests_shop_id', table_name='return_requests')
    op.drop_table('return_requests')
    op.drop_index('ix_returns_shop_order', table_name='returns')
    op.drop_index('ix_returns_shop_id', table_name='returns')
    op.drop_table('returns')
