"""Staff second factors and password rules: TOTP secrets (sealed), recovery codes (hashed),
WebAuthn credentials; staff_user gains must_change_password and lockouts.

`must_change_password` is set on accounts whose password an administrator chose (all existing
accounts included: their passwords were set by an administrator or the CLI, and predate the
strength check); `lockouts` counts lockouts in a row, so each one lasts twice the one before
(capped, services/staff.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade_():
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )
        batch.add_column(
            sa.Column("lockouts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "staff_totp",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_staff_totp_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_totp")),
    )
    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("lookup", sa.String(length=8), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_staff_recovery_code_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_code")),
        sa.UniqueConstraint("user_id", "lookup", name=op.f("uq_staff_recovery_code_user_id")),
    )
    op.create_table(
        "staff_webauthn_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_webauthn_credential_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_webauthn_credential")),
        sa.UniqueConstraint(
            "credential_id", name=op.f("uq_staff_webauthn_credential_credential_id")
        ),
    )


def downgrade_():
    op.drop_table("staff_webauthn_credential")
    op.drop_table("staff_recovery_code")
    op.drop_table("staff_totp")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("lockouts")
        batch.drop_column("must_change_password")


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
