"""Device cookies: the browsers that signed a staff member in, and their own lockout.

- staff_device: one row per device cookie issued (services/devices.py), keyed by the SHA-256 of
  its nonce, with the failure count and lockout of that browser alone. Nothing to fill in:
  every browser is untrusted until its next successful sign-in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade_():
    op.create_table(
        "staff_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_device_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_device")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_staff_device_nonce_hash")),
    )
    op.create_index("ix_staff_device_staff_id", "staff_device", ["staff_id"])


def downgrade_():
    # Only lockouts of single browsers are lost: every browser is untrusted again.
    op.drop_index("ix_staff_device_staff_id", table_name="staff_device")
    op.drop_table("staff_device")


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
