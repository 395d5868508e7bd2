"""Blind index version: which name folding each resident's blind index was computed with.

Every existing row was computed with version 1 (case folding only). Version 2 also folds accents
and punctuation (services.namefold). A migration cannot compute it: that takes each record in
clear, so the master key and the key store, which a schema migration must not need. The rows are
re-indexed by `cardservice residents reindex` (boot.sh runs it after the upgrade; safe to
re-run, it only touches rows still below the current version). Until then, searches look up both
versions, so nothing found before is missed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade_():
    with op.batch_alter_table("resident") as batch_op:
        batch_op.add_column(
            sa.Column("index_version", sa.SmallInteger(), nullable=False, server_default="1")
        )


def downgrade_():
    # Version 2 indexes would not be found by the older code: a downgrade takes a re-index with
    # that code's folding, which only that code can do. Refuse rather than lose the lookups.
    bind = op.get_bind()
    newer = bind.execute(sa.text("SELECT count(*) FROM resident WHERE index_version > 1")).scalar()
    if newer:
        raise RuntimeError(
            f"{newer} residents have a version 2 blind index; the older code cannot find them"
        )
    with op.batch_alter_table("resident") as batch_op:
        batch_op.drop_column("index_version")


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
