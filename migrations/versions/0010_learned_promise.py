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
    op.create_table(
        'promise_models',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('target', sa.Float(), nullable=False),
        sa.Column('deliveries', sa.Integer(), nullable=False),
        sa.Column('routes', sa.JSON(), nullable=False),
        sa.Column('dropped', sa.JSON(), nullable=False),
        sa.Column('evaluation', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_promise_models_shop_id_shops'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_promise_models')),
        sa.UniqueConstraint('shop_id', 'version', name=op.f('uq_promise_models_shop_id_version')),
    )
    op.create_index(op.f('ix_promise_models_shop_id'), 'promise_models', ['shop_id'], unique=False)
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('promise_mode', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('promise_model_version', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('promise_model_version')
        batch.drop_column('promise_mode')
    op.drop_index(op.f('ix_promise_models_shop_id'), table_name='promise_models')
    op.drop_table('promise_models')
    op.drop_index(op.f('ix_past_deliveries_shop_id'), table_name='past_deliveries')
    op.drop_table('past_deliveries')
