"""lighter webhook event writes: order_id indexed only once set; payloads compressed with lz4 on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Intake writes every event with order_id NULL; the handler sets it later. Only set ids are looked up.
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_order_id')
    op.create_index('ix_webhook_events_order_id', 'webhook_events', ['order_id'], unique=False,
                    sqlite_where=sa.text('order_id IS NOT NULL'), postgresql_where=sa.text('order_id IS NOT NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        # lz4 compresses a payload several times faster than the default pglz; servers without it keep pglz.
        op.execute("""
            DO $$ BEGIN
                ALTER TABLE webhook_events ALTER COLUMN payload SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error THEN NULL;
            END $$;
        """)


def downgrade():
    op.drop_index('ix_webhook_events_order_id', table_name='webhook_events')
    op.create_index('ix_webhook_events_order_id', 'webhook_events', ['order_id'], unique=False)
