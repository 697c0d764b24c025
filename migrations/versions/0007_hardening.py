"""hardening after review: survey answers and links, alert channels, privacy, tokens and products, lifecycle

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:45:00

Each area of the change adds its operations under its own heading, in upgrade and in downgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # -- surveys: answers, links, sending
    # Links name a survey by a random public id, not its sequential row id; existing rows get one here.
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=24), nullable=True))
    random_hex = ("lower(hex(randomblob(12)))" if op.get_bind().dialect.name == 'sqlite'
                  else "substr(replace(gen_random_uuid()::text, '-', ''), 1, 24)")
    op.execute(f"UPDATE surveys SET public_id = {random_hex} WHERE public_id IS NULL")
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=24), nullable=False)
        batch_op.create_index(batch_op.f('ix_surveys_public_id'), ['public_id'], unique=True)
    # -- alerts: per shop and channel
    # -- privacy: retention
    # -- shopify tokens and products
    # -- shop lifecycle
    pass


def downgrade():
    # -- shop lifecycle
    # -- shopify tokens and products
    # -- privacy: retention
    # -- alerts: per shop and channel
    # -- surveys: answers, links, sending
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_public_id'))
        batch_op.drop_column('public_id')
    pass
