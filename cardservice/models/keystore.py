"""The data-key store: each resident's wrapped data key, in a database of its own.

Kept apart from the resident database (Flask-SQLAlchemy bind ``keystore``, configured with
CARDSERVICE_KEYSTORE_DATABASE_URI) so that a backup of the resident database holds only
ciphertext whose keys live elsewhere: erasing a resident deletes their row here, and every copy
of their record, backups included, becomes unreadable the moment that deletion commits. The keys
stay wrapped by the master key (services.crypto.MasterKeyProvider), so this database alone
reveals nothing either: reading a record takes the resident database, the key store and the
master key.

No foreign key can cross two databases: `resident_id` is matched by value, and
services.residents.sweep_orphans() removes rows left on one side by an interrupted write.

On SQLite the key store runs in write-ahead-log mode: every enrolment commits a key here before
its record, and a WAL commit is one append and one sync instead of a rollback journal's file
creation, two syncs and deletion (0.3 ms against 0.8 to 0.9 ms here, bench/bench_privacy.py).
The price is that a deleted key's old page can survive in the -wal file until SQLite overwrites
it, so every deletion of keys ends with `forget_deleted_keys()`, which copies the log into the
database file (where secure_delete has zeroed the key) and truncates the log to nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Connection, Engine, Insert, LargeBinary, Row, Select, String, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

KEYSTORE_BIND = "keystore"


class ResidentKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "resident_key"
    __bind_key__ = KEYSTORE_BIND

    # The resident's random id (resident.id in the other database).
    resident_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Which master key wrapped the data key (lets a master-key rotation re-wrap in place).
    master_key_id: Mapped[str] = mapped_column(String(32), index=True)
    # nonce || AES-GCM of the 32-byte data key under the master key, the resident id bound as
    # associated data: a wrapped key copied onto another resident does not unwrap.
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    # When the key was written: the orphan sweep leaves young keys alone, since enrolment writes
    # the key a moment before the record.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


log = logging.getLogger("cardservice.keystore")
_Columns = TypeVarTuple("_Columns")


def use_write_ahead_log(engine: Engine) -> None:
    """Put an SQLite key store in WAL mode on every new connection (see the module docstring)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode = WAL")


@contextmanager
def _single_statements(bind: Engine | Connection) -> Iterator[Connection]:
    """A key-store connection, apart from any session's, on which every statement is a
    transaction of its own, with no BEGIN or COMMIT round trip."""
    connection = bind.engine.connect()
    if connection.dialect.name == "sqlite":
        # The driver already runs each statement on its own (security._sqlite_pragmas): only
        # the BEGIN IMMEDIATE that security._sqlite_begin_immediate adds must be skipped. The
        # AUTOCOMMIT isolation level would work too, but resetting it when the connection goes
        # back to the pool hands transaction control back to the driver.
        connection = connection.execution_options(single_statements=True)
    else:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    with connection:
        yield connection


# Every issue and print reads one key and every enrolment writes one, so these two run as single
# statements: on PostgreSQL each is then one round trip instead of four (pool ping, BEGIN,
# statement, COMMIT; tests/integration/privacy/test_key_store_connections.py checks it); the
# encryption share of the counter flow on PostgreSQL went from 9.0-12.0% to 7.5-8.7%
# (docs/performance.md). Without the pool's ping a connection the server dropped (a restart)
# fails on first use; SQLAlchemy then discards the whole pool, and read_key_rows runs the read
# once more.


def read_key_rows(
    bind: Engine | Connection, statement: Select[*_Columns]
) -> Sequence[Row[*_Columns]]:
    """The rows of one SELECT on the key store, as a transaction of its own."""
    try:
        return _read(bind, statement)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return _read(bind, statement)  # on a new connection: the pool was discarded


def _read(bind: Engine | Connection, statement: Select[*_Columns]) -> Sequence[Row[*_Columns]]:
    with _single_statements(bind) as connection:
        return connection.execute(statement).all()


def insert_key_row(bind: Engine | Connection, statement: Insert) -> None:
    """One INSERT on the key store, committed (durable) when this returns.

    The caller's session must hold no key-store transaction: on SQLite this connection would
    wait for that transaction's write lock. Not retried: after a dropped connection the insert
    may or may not have committed, and an orphan key is what the sweep is for.
    """
    with _single_statements(bind) as connection:
        connection.execute(statement)


def forget_deleted_keys(bind: Engine | Connection) -> None:
    """After keys were deleted and committed: leave no copy of them in SQLite's write-ahead log.

    TRUNCATE waits (busy_timeout) for readers of older snapshots, then empties the log file. If
    it still cannot (a reader held on), the old frames are overwritten by later commits; the log
    line says so, without saying whose keys.
    """
    engine = bind.engine
    if engine.dialect.name != "sqlite":
        return
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cursor.close()
    finally:
        connection.close()
    if busy:
        log.warning(
            "the key store's write-ahead log could not be truncated after deleting keys (a "
            "reader was busy); later commits overwrite it"
        )
