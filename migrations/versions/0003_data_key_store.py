"""Per-resident data keys move out of the resident database into the data-key store.

docs/privacy.md, rule 2: deleting a resident destroys their key, so backups forget too. With
the wrapped key in the same row as the ciphertext, a backup of the resident database taken
before an erasure still held both, and opened with the master key. From this revision the key
store (bind "keystore", CARDSERVICE_KEYSTORE_DATABASE_URL) holds `resident_key` (resident id,
master key id, wrapped data key, created at) and the resident table keeps only the ciphertext.

The move crosses two databases. migrations/env.py runs both in one go and commits the key store
first: if the resident database's commit then fails, the keys are in both places and running the
upgrade again finishes (keys already in the key store are skipped after checking they are the
same key under the same master key). After the upgrade on PostgreSQL, `VACUUM FULL resident`
rewrites the table so the dropped columns' old values leave the data files too
(docs/operations.md); SQLite's DROP COLUMN rewrites the rows itself, and secure_delete zeroes
what it frees.

There is no downgrade: it would copy every data key back beside its ciphertext and undo the
point of the change. Restore a backup of both databases taken before the upgrade instead.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlite3

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NO_DOWNGRADE = (
    "revision 0003 cannot be downgraded: it would copy every resident's data key back into the "
    "resident database, next to the ciphertext, so that backups of it would stop forgetting "
    "erased residents. Restore a backup of both databases taken before the upgrade instead."
)

_resident = sa.table(
    "resident",
    sa.column("id", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("master_key_id", sa.String),
    sa.column("wrapped_data_key", sa.LargeBinary),
)
_resident_key = sa.table(
    "resident_key",
    sa.column("resident_id", sa.String),
    sa.column("master_key_id", sa.String),
    sa.column("wrapped_data_key", sa.LargeBinary),
    sa.column("created_at", sa.DateTime),
)


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_keystore():
    op.create_table(
        "resident_key",
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("master_key_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_key")),
    )
    op.create_index(
        op.f("ix_resident_key_master_key_id"), "resident_key", ["master_key_id"], unique=False
    )
    op.create_index(
        op.f("ix_resident_key_created_at"), "resident_key", ["created_at"], unique=False
    )


def upgrade_():
    if context.is_offline_mode():
        raise RuntimeError(
            "revision 0003 copies data from the resident database into the key store: run it "
            "online (`cardservice db upgrade`), not as an --sql script"
        )
    resident_db = op.get_bind()
    if resident_db.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(
            f"revision 0003 needs SQLite 3.35 or later (ALTER TABLE ... DROP COLUMN); this "
            f"Python has SQLite {sqlite3.sqlite_version}"
        )
    keystore = context.config.attributes["connections"]["keystore"]
    present = {
        resident_id: (master_key_id, bytes(wrapped))
        for resident_id, master_key_id, wrapped in keystore.execute(
            sa.select(
                _resident_key.c.resident_id,
                _resident_key.c.master_key_id,
                _resident_key.c.wrapped_data_key,
            )
        )
    }
    result = resident_db.execute(
        sa.select(
            _resident.c.id,
            _resident.c.created_at,
            _resident.c.master_key_id,
            _resident.c.wrapped_data_key,
        ),
        execution_options={"yield_per": 2000},
    )
    try:
        _copy_keys(result, present, keystore)
    finally:
        result.close()  # a server-side cursor on PostgreSQL: closed even when refusing
    op.drop_column("resident", "wrapped_data_key")
    op.drop_column("resident", "master_key_id")


def _copy_keys(result, present, keystore):
    for rows in result.partitions():
        batch = []
        for resident_id, created_at, master_key_id, wrapped in rows:
            if resident_id in present:
                # Left by an earlier run whose resident-database commit failed: must match.
                if present[resident_id] != (master_key_id, bytes(wrapped)):
                    raise RuntimeError(
                        "revision 0003: the key store already holds a different data key for "
                        "a resident; it does not belong to this resident database"
                    )
                continue
            batch.append(
                {
                    "resident_id": resident_id,
                    "master_key_id": master_key_id,
                    "wrapped_data_key": bytes(wrapped),
                    "created_at": created_at,
                }
            )
        if batch:
            keystore.execute(_resident_key.insert(), batch)


def downgrade_keystore():
    raise RuntimeError(_NO_DOWNGRADE)


def downgrade_():
    raise RuntimeError(_NO_DOWNGRADE)
