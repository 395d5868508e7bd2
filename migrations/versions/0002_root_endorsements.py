"""Root key rotation: the city keeps the chain of root endorsements it publishes.

Each entry is one COSE_Sign1 endorsement (cardformat.endorse_root), hex-encoded, oldest first:
partners that pinned an older root follow the chain to the current one (docs/card-format.md
section 5), so the list only ever grows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade_():
    with op.batch_alter_table("city", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "root_endorsements", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )


def downgrade_():
    with op.batch_alter_table("city", schema=None) as batch_op:
        batch_op.drop_column("root_endorsements")


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
