"""Drop an app's own database connection at a chosen statement, as a database restart or an
administrator's pg_terminate_backend would.

On PostgreSQL the backend serving the statement is terminated from another connection (and
waited for) just before the statement is sent; on SQLite the driver connection is closed under
SQLAlchemy's feet, which it reads as the same disconnect. Either way the statement fails with a
DBAPIError whose `connection_invalidated` is true, exactly where the test chose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text


@contextmanager
def drop_connection(
    engine: Engine, before: Callable[[str], bool], *, times: int = 1
) -> Iterator[list[str]]:
    """Kill the connection running the first `times` statements for which `before(statement)`
    is true; yields the list of statements it killed (to check that the fault happened)."""
    killed: list[str] = []

    def on_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if len(killed) < times and before(statement):
            kill(connection)
            killed.append(statement)

    with _killer(engine) as kill:
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            yield killed
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)


@contextmanager
def drop_connection_at_rollback(engine: Engine) -> Iterator[list[str]]:
    """Kill the connection of the first ROLLBACK, just before it is sent (as when the request
    has its answer and the connection dies before the request's session is closed)."""
    killed: list[str] = []

    def on_rollback(connection: Any) -> None:
        if not killed:
            kill(connection)
            killed.append("ROLLBACK")

    with _killer(engine) as kill:
        event.listen(engine, "rollback", on_rollback)
        try:
            yield killed
        finally:
            event.remove(engine, "rollback", on_rollback)


@contextmanager
def _killer(engine: Engine) -> Iterator[Callable[[Any], None]]:
    admin = (
        create_engine(engine.url, isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql"
        else None
    )

    def kill(connection: Any) -> None:
        dbapi = connection.connection.dbapi_connection
        if admin is None:
            dbapi.close()
            return
        with admin.connect() as other:
            # The second argument makes the call wait until the backend is gone.
            pid = dbapi.info.backend_pid
            assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})

    try:
        yield kill
    finally:
        if admin is not None:
            admin.dispose()


def starts(prefix: str) -> Callable[[str], bool]:
    """A statement predicate: the statement begins with `prefix` (case-insensitive)."""
    return lambda statement: statement.lstrip().upper().startswith(prefix.upper())


def reads(table: str) -> Callable[[str], bool]:
    """A statement predicate: a SELECT from `table`."""
    return lambda statement: (
        statement.lstrip().upper().startswith("SELECT")
        and (f"FROM {table.upper()}" in statement.upper())
    )
