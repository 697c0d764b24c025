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
    # -- shop lifecycle
    pass


def downgrade():
    # -- shop lifecycle
    # -- shopify tokens and products
    # -- privacy: retention
    # -- alerts: per shop and channel
    # -- surveys: answers, links, sending
    pass
