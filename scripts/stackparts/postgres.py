"""The PostgreSQL server the stack makes its databases on, reached as its administrator."""

from __future__ import annotations

import os
from typing import Any

from .common import HOST, StackError


def postgres_admin_url() -> str:
    """STACK_POSTGRES_URL (or the local server), as psycopg takes it."""
    url = os.environ.get("STACK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def database_url(admin_url: str, name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the admin URL's server, as the apps take it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_url)
    user = params.get("user", "postgres")
    host = params.get("host", HOST)
    port = params.get("port", "5432")
    password = params.get("password")
    auth = f"{user}:{password}" if password else str(user)
    make_conninfo(admin_url)  # validates the URL before anything is created
    return f"postgresql+psycopg://{auth}@{host}:{port}/{name}"


def admin_execute(
    admin_url: str, statement: str, dbname: str | None = None
) -> list[tuple[Any, ...]]:
    """One statement on the server (autocommit: CREATE and DROP DATABASE need it), in the admin
    URL's database unless ``dbname`` names another; its rows, if it returns any."""
    import psycopg

    target: dict[str, Any] = {"dbname": dbname} if dbname else {}
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5, **target) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []
    except psycopg.OperationalError as exc:
        raise StackError(f"PostgreSQL at {admin_url} is unreachable: {exc}") from None
