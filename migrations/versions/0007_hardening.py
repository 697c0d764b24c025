"""hardening after review: survey answers and links, alert channels, privacy, tokens and products, lifecycle

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:45:00

Each area of the change adds its operations under its own heading, in upgrade and in downgrade.
"""
import hashlib
import hmac

from alembic import op
import sqlalchemy as sa
from flask import current_app


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
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_email_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('alert_webhook_state', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_surveys_alert_email_state'), ['alert_email_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_alert_webhook_state'), ['alert_webhook_state'], unique=False)
    op.execute("UPDATE surveys SET alert_state = 'batched' WHERE alert_state = 'sent'")
    op.create_table('alert_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('target_hash', sa.String(length=64), nullable=True),
    sa.Column('failures', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_alert_channels_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channels')),
    sa.UniqueConstraint('shop_id', 'channel', name=op.f('uq_alert_channels_shop_id_channel'))
    )
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_channels_shop_id'), ['shop_id'], unique=False)
    # -- privacy: retention
    _rehash_addresses(_keyed_hash)
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
    _rehash_addresses(_plain_hash)
    # -- alerts: per shop and channel
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_channels_shop_id'))
    op.drop_table('alert_channels')
    # An answer still waiting on a channel waits for the one batched alert again.
    op.execute("UPDATE surveys SET alert_state = 'pending' "
               "WHERE alert_email_state = 'pending' OR alert_webhook_state = 'pending'")
    op.execute("UPDATE surveys SET alert_state = 'sent' WHERE alert_state = 'batched'")
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_alert_webhook_state'))
        batch_op.drop_index(batch_op.f('ix_surveys_alert_email_state'))
        batch_op.drop_column('alert_webhook_state')
        batch_op.drop_column('alert_email_state')
    # -- surveys: answers, links, sending
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_public_id'))
        batch_op.drop_column('public_id')
    pass


# -- privacy: retention
# Survey and suppression hashes of e-mail addresses were plain sha256("<shop id>:<address>"), which anyone holding
# the table can reverse by hashing guessed addresses; they become HMAC-SHA256 under CX_EMAIL_HASH_KEY (as
# cxplugin.privacy.email_hash makes them). A hash is recomputed from its order's address; a suppression from the
# survey that made it. A suppression whose address is no longer known (its orders were redacted) cannot be
# re-keyed, would never match again, and is deleted rather than left reversible.

def _keyed_hash(shop_id, address):
    key = current_app.config["CX_EMAIL_HASH_KEY"].encode()
    return hmac.new(key, f"{shop_id}:{address.strip().lower()}".encode(), hashlib.sha256).hexdigest()


def _plain_hash(shop_id, address):
    return hashlib.sha256(f"{shop_id}:{address.strip().lower()}".encode()).hexdigest()


def _rehash_addresses(new_hash):
    conn = op.get_bind()
    renamed = {}
    rows = conn.execute(sa.text(
        "SELECT s.id, s.shop_id, s.email_hash, o.email FROM surveys s JOIN orders o ON o.id = s.order_id"
        " WHERE s.email_hash IS NOT NULL")).all()
    for survey_id, shop_id, old, address in rows:
        new = new_hash(shop_id, address) if address else None
        if new is not None:
            renamed[(shop_id, old)] = new
        conn.execute(sa.text("UPDATE surveys SET email_hash = :new WHERE id = :id"), {"new": new, "id": survey_id})
    for row_id, shop_id, old in conn.execute(sa.text("SELECT id, shop_id, email_hash FROM suppressions")).all():
        new = renamed.get((shop_id, old))
        if new is None:
            conn.execute(sa.text("DELETE FROM suppressions WHERE id = :id"), {"id": row_id})
        else:
            conn.execute(sa.text("UPDATE suppressions SET email_hash = :new WHERE id = :id"),
                         {"new": new, "id": row_id})
