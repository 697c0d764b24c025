"""scores: each order's delivery facts, daily rollups of the scores page, a follow-up mark per survey answer

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 10:00:00

The delivery facts on ``orders`` are kept by cxplugin/scores/facts.py whenever an order or its shipments change;
``score_days`` is kept exact by cxplugin/scores/rollup.py. Orders recorded before this revision get both from
``flask --app wsgi cx scores rebuild``.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

_COUNTERS = ['orders', 'with_promise', 'on_time', 'early', 'late', 'late_days', 'lead_days', 'lead_orders',
             'first_customers', 'first_returned', 'sent', 'answered', 'csat_1', 'csat_2', 'csat_3', 'csat_4',
             'csat_5', 'nps_answers', 'nps_promoters', 'nps_passives', 'nps_detractors', 'nps_sum']


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delivered_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('lead_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('days_late', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('punctuality', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('delivered_early', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('carrier', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('promise_zone', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('customer_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('first_of_kind', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('came_back', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_orders_shop_delivered_on', 'orders', ['shop_id', 'delivered_on'])
    op.create_index('ix_orders_shop_customer_key', 'orders', ['shop_id', 'customer_key'])

    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up', sa.String(length=16), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('follow_up_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_surveys_shop_answered_at', 'surveys', ['shop_id', 'answered_at'])

    op.create_table(
        'score_days',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('grain', sa.String(length=12), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('bucket', sa.String(length=24), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('zone', sa.String(length=255), nullable=False),
        sa.Column('carrier', sa.String(length=255), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default='0') for name in _COUNTERS],
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'kind', 'grain', 'day', 'bucket', 'country', 'zone', 'carrier',
                            name='uq_score_days_key'),
    )


def downgrade():
    op.drop_table('score_days')
    op.drop_index('ix_surveys_shop_answered_at', table_name='surveys')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_column('follow_up_at')
        batch_op.drop_column('follow_up')
    op.drop_index('ix_orders_shop_customer_key', table_name='orders')
    op.drop_index('ix_orders_shop_delivered_on', table_name='orders')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for name in ('came_back', 'first_of_kind', 'customer_key', 'promise_zone', 'carrier', 'delivered_early',
                     'punctuality', 'days_late', 'lead_days', 'delivered_on', 'delivered_at'):
            batch_op.drop_column(name)
