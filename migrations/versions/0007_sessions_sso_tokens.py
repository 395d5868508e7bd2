"""Server-side staff sessions, single sign-on identities, expiring and scoped API tokens.

- staff_session: the counter's sessions (services/sessions.py), indexed by staff member;
- staff_identity: a staff account's OpenID Connect (issuer, subject) link (services/oidc.py);
- api_token.expires_at and api_token.scopes. Tokens made before this revision keep working for
  90 days from the upgrade, with every scope their role allowed (they could call every endpoint
  of their role before); an administrator replaces them with narrower ones meanwhile.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The scopes of services/tokens.py at this revision, by role (a migration never imports app code).
_ROLE_SCOPES = {
    "clerk": "policy:read residents:read residents:write cards:read cards:issue cards:print",
    "supervisor": "policy:read residents:read residents:write residents:erase cards:read "
    "cards:issue cards:print cards:revoke",
}
_ROLE_SCOPES["admin"] = _ROLE_SCOPES["supervisor"]


def upgrade_():
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("absolute_expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_session_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("sid_hash", name=op.f("uq_staff_session_sid_hash")),
    )
    op.create_index("ix_staff_session_staff_id", "staff_session", ["staff_id"])
    op.create_index("ix_staff_session_expires_at", "staff_session", ["expires_at"])
    op.create_table(
        "staff_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_identity_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_identity")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_staff_identity_issuer_subject")),
    )
    op.create_index(
        op.f("ix_staff_identity_staff_id"), "staff_identity", ["staff_id"], unique=False
    )
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("scopes", sa.String(length=512), nullable=True))
    expires = (datetime.now(UTC) + timedelta(days=90)).replace(tzinfo=None)
    token = sa.table("api_token", sa.column("role"), sa.column("expires_at"), sa.column("scopes"))
    op.execute(token.update().where(token.c.expires_at.is_(None)).values(expires_at=expires))
    for role, scopes in _ROLE_SCOPES.items():
        op.execute(
            token.update()
            .where(token.c.scopes.is_(None), token.c.role == role)
            .values(scopes=scopes)
        )
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)
        batch.alter_column("scopes", existing_type=sa.String(length=512), nullable=False)


def downgrade_():
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("scopes")
        batch.drop_column("expires_at")
    op.drop_index(op.f("ix_staff_identity_staff_id"), table_name="staff_identity")
    op.drop_table("staff_identity")
    op.drop_index("ix_staff_session_expires_at", table_name="staff_session")
    op.drop_index("ix_staff_session_staff_id", table_name="staff_session")
    op.drop_table("staff_session")


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
