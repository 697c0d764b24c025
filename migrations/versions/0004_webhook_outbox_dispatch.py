"""webhook events are the outbox: dispatched_at; drop the index the unique constraint already gives

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
        # (shop_domain, event_id) is unique, and that index serves every look-up by shop_domain.
        batch_op.drop_index(batch_op.f('ix_webhook_events_shop_domain'))
    # Events recorded before this revision were enqueued at intake.
    op.execute("UPDATE webhook_events SET dispatched_at = received_at")


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_shop_domain'), ['shop_domain'], unique=False)
        batch_op.drop_column('dispatched_at')
