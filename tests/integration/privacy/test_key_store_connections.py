"""The data-key store's pool does not ping its connections (a ping would double the round trips
of every issue and print, models.keystore): a connection the server dropped, after a restart
say, must still cost no request. On PostgreSQL the server ends the backends; on SQLite the
connections are closed underneath the pool, which SQLAlchemy reads as the same disconnect."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import create_engine, event, text

from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND

from .helpers import auth, enrol, is_postgres, issue


def _drop_pooled_connections(app: Flask) -> int:
    """End every connection the key store's pool holds, behind the pool's back."""
    engine = db.engines[KEYSTORE_BIND]
    held = [engine.raw_connection() for _ in range(max(engine.pool.checkedin(), 1))]
    dbapi_connections = [proxy.dbapi_connection for proxy in held]
    pids = []
    if is_postgres(app):
        for proxy in held:
            cursor = proxy.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
            cursor.close()
    for proxy in held:
        proxy.close()  # back to the pool, alive as far as the pool knows
    if is_postgres(app):
        admin = create_engine(app.config["KEYSTORE_DATABASE_URI"])
        with admin.begin() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
    else:
        for dbapi_connection in dbapi_connections:
            assert dbapi_connection is not None
            dbapi_connection.close()
    return len(held)


def test_a_dropped_key_store_connection_costs_no_request(
    app: Flask, client: Any, session: Any, city: Any, tokens: dict[str, str]
) -> None:
    resident = enrol(client, tokens["clerk"])
    number = issue(client, tokens["clerk"], resident)["number"]
    session.remove()
    assert _drop_pooled_connections(app) >= 1

    # Reading a record reads its key: the dead connection is found, the pool discarded, the
    # read run again on a new connection.
    response = client.get(f"/api/v1/residents/{resident}", headers=auth(tokens["clerk"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    pdf = client.get(f"/api/v1/cards/{number}.pdf", headers=auth(tokens["clerk"]))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_reading_a_key_is_one_statement_outside_any_transaction(
    app: Flask, client: Any, session: Any, city: Any, tokens: dict[str, str], monkeypatch: Any
) -> None:
    """Every issue and print reads a key: no pool ping, no BEGIN, no COMMIT around the SELECT
    (on PostgreSQL each would be a round trip of its own)."""
    resident = enrol(client, tokens["clerk"])
    session.remove()
    engine = db.engines[KEYSTORE_BIND]
    seen: list[tuple[str, bool]] = []
    pings: list[object] = []

    def on_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        dbapi = connection.connection.dbapi_connection
        alone = dbapi.autocommit if is_postgres(app) else not dbapi.in_transaction
        seen.append((statement.split()[0].upper(), alone))

    original_ping = engine.dialect.do_ping
    monkeypatch.setattr(
        engine.dialect, "do_ping", lambda dbapi: pings.append(dbapi) or original_ping(dbapi)
    )
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        response = client.get(f"/api/v1/residents/{resident}", headers=auth(tokens["clerk"]))
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert seen == [("SELECT", True)]
    assert pings == []
