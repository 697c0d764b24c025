"""change stamps: processes learn that held shops, settings and product tags changed elsewhere

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    stamps = op.create_table('change_stamps',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_change_stamps'))
    )
    op.bulk_insert(stamps, [{'name': 'storefront', 'value': 0}])


def downgrade():
    op.drop_table('change_stamps')
