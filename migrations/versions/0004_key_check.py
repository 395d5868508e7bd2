"""Check values of the shared secrets (passphrase, master key, index key): table key_check.

Empty after the upgrade: the first instance that starts records the values of its secrets
(services.keycheck), proving the passphrase first with the city's root key when the city
exists. The table lives in the resident database; the key store is not changed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade_():
    op.create_table(
        "key_check",
        sa.Column("secret", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("secret", name=op.f("pk_key_check")),
    )


def downgrade_():
    op.drop_table("key_check")


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
