"""Re-sign the cached published documents: clear the signed issuer metadata and status-list
tokens stored in the database.

Documents cached before the card format required deterministic encoding for metadata and status
lists (docs/card-format.md) are refused by verifiers that apply it. Clearing the cache makes the
next request sign them again in the required form (the metadata with serial + 1, so partners
accept it as newer); nothing else changes. Safe to re-run, and nothing to undo on downgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade_():
    op.execute("UPDATE city SET metadata_document = NULL, metadata_issued_at = NULL")
    op.execute("UPDATE status_list SET token = NULL, token_issued_at = NULL")


def downgrade_():
    pass  # the cache refills itself on the next request


# Two databases (migrations/env.py): upgrade_() migrates the resident database,
# upgrade_keystore() the data-key store.
def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_keystore():
    pass


def downgrade_keystore():
    pass
