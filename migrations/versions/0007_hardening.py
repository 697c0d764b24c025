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
    # -- alerts: per shop and channel
    # -- privacy: retention
    # -- shopify tokens and products
    with op.batch_alter_table('shops', schema=None) as batch_op:
        # Set when Shopify refused the refresh token: the next /admin load exchanges a new one.
        batch_op.add_column(sa.Column('needs_reauth_at', sa.DateTime(timezone=True), nullable=True))
        # A process refreshing the shop's token holds this lease until then (one refresh at a time).
        batch_op.add_column(sa.Column('token_refresh_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('products', schema=None) as batch_op:
        # Shopify could not be asked for the product's tags: untagged until asked again a little later.
        batch_op.add_column(sa.Column('fetch_failed_at', sa.DateTime(timezone=True), nullable=True))
    # -- shop lifecycle
    pass


def downgrade():
    # -- shop lifecycle
    # -- shopify tokens and products
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('fetch_failed_at')
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_column('token_refresh_until')
        batch_op.drop_column('needs_reauth_at')
    # -- privacy: retention
    # -- alerts: per shop and channel
    # -- surveys: answers, links, sending
    pass
