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
    # -- alerts: per shop and channel
    # -- privacy: retention
    _rehash_addresses(_keyed_hash)
    # -- shopify tokens and products
    # -- shop lifecycle
    pass


def downgrade():
    # -- shop lifecycle
    # -- shopify tokens and products
    # -- privacy: retention
    _rehash_addresses(_plain_hash)
    # -- alerts: per shop and channel
    # -- surveys: answers, links, sending
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
