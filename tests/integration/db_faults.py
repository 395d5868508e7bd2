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
    admin = (
        create_engine(engine.url, isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql"
        else None
    )

    def on_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if len(killed) >= times or not before(statement):
            return
        dbapi = connection.connection.dbapi_connection
        if admin is not None:
            pid = dbapi.info.backend_pid
            with admin.connect() as other:
                # The second argument makes the call wait until the backend is gone.
                assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        else:
            dbapi.close()
        killed.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield killed
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
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
