"""orders at risk: risk state per order and its changes, shopper delay notices, follow-up marks, Flow triggers

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _shop_and_order(table, order=True):
    cols = [sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('shop_id', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f(f'fk_{table}_shop_id_shops'),
                                    ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}'))]
    if order:
        cols += [sa.Column('order_id', sa.Integer(), nullable=False),
                 sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f(f'fk_{table}_order_id_orders'),
                                         ondelete='CASCADE')]
    return cols


def upgrade():
    op.create_table(
        'order_risks', *_shop_and_order('order_risks'),
        sa.Column('state', sa.String(length=24), nullable=False),
        sa.Column('reason', sa.String(length=255), nullable=False),
        sa.Column('new_expected', sa.Date(), nullable=True),
        sa.Column('since', UTC_TIME, nullable=False),
        sa.Column('checked_at', UTC_TIME, nullable=False),
        sa.Column('closed', sa.Boolean(), nullable=False),
        sa.Column('mark', sa.String(length=16), nullable=True),
        sa.Column('marked_at', UTC_TIME, nullable=True),
        sa.UniqueConstraint('order_id', name=op.f('uq_order_risks_order_id')),
    )
    op.create_index(op.f('ix_order_risks_shop_id'), 'order_risks', ['shop_id'])
    op.create_index(op.f('ix_order_risks_state'), 'order_risks', ['state'])
    op.create_index(op.f('ix_order_risks_closed'), 'order_risks', ['closed'])
    op.create_table(
        'risk_changes', *_shop_and_order('risk_changes'),
        sa.Column('state', sa.String(length=24), nullable=False),
        sa.Column('reason', sa.String(length=255), nullable=False),
        sa.Column('new_expected', sa.Date(), nullable=True),
        sa.Column('at', UTC_TIME, nullable=False),
    )
    op.create_index(op.f('ix_risk_changes_shop_id'), 'risk_changes', ['shop_id'])
    op.create_index(op.f('ix_risk_changes_order_id'), 'risk_changes', ['order_id'])
    op.create_table(
        'delay_notices', *_shop_and_order('delay_notices'),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('skip_reason', sa.String(length=32), nullable=True),
        sa.Column('new_expected', sa.Date(), nullable=True),
        sa.Column('claimed_at', UTC_TIME, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('discount_code', sa.String(length=64), nullable=True),
        sa.Column('discount_id', sa.String(length=255), nullable=True),
        sa.Column('sent_at', UTC_TIME, nullable=True),
        sa.Column('message_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.UniqueConstraint('order_id', 'kind', name=op.f('uq_delay_notices_order_id_kind')),
    )
    op.create_index(op.f('ix_delay_notices_shop_id'), 'delay_notices', ['shop_id'])
    op.create_index(op.f('ix_delay_notices_order_id'), 'delay_notices', ['order_id'])
    op.create_index(op.f('ix_delay_notices_status'), 'delay_notices', ['status'])
    op.create_index(op.f('ix_delay_notices_sent_at'), 'delay_notices', ['sent_at'])
    op.create_table(
        'flow_triggers', *_shop_and_order('flow_triggers', order=False),
        sa.Column('handle', sa.String(length=64), nullable=False),
        sa.Column('dedupe_key', sa.String(length=128), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('sent_at', UTC_TIME, nullable=True),
        sa.Column('claimed_at', UTC_TIME, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UTC_TIME, nullable=False),
        sa.UniqueConstraint('shop_id', 'dedupe_key', name=op.f('uq_flow_triggers_shop_id_dedupe_key')),
    )
    op.create_index(op.f('ix_flow_triggers_shop_id'), 'flow_triggers', ['shop_id'])
    op.create_index(op.f('ix_flow_triggers_sent_at'), 'flow_triggers', ['sent_at'])


def downgrade():
    op.drop_table('flow_triggers')
    op.drop_table('delay_notices')
    op.drop_table('risk_changes')
    op.drop_table('order_risks')
