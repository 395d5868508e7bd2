"""Database faults during a request: a clean 503, or one transparent retry of a read.

A connection can die under a request (a database restart or failover, an administrator's
``pg_terminate_backend``, a network cut), a lock or statement can time out, or the pool can run
dry. None of these is the request's fault, and none may answer 500:

- the session is rolled back (PostgreSQL has already undone the open transaction; every service
  writes in one transaction, so no record is left half-written);
- a GET or HEAD that has sent no write yet is run once more, on a fresh connection (the pool
  pings the resident database's connections on checkout; SQLAlchemy discards the key store's
  pool after a disconnect), so a reader sees nothing of a single dropped connection;
- otherwise the answer is 503 with ``Retry-After`` (problem+json with code
  ``database_unavailable`` under /api/ and /.well-known/, the translated error page elsewhere);
- the log line names the route pattern and the driver's error class and SQLSTATE: never the
  statement's parameters or the driver's message, which may quote values.

"Has sent a write" is tracked per request by an engine hook: any statement that is not a read
(or a BEGIN) marks the request, so a GET that has already written (the first GET of a status
list signs and stores its token) is not run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .extensions import db

log = logging.getLogger("cardservice.database")

#: Seconds a client should wait before trying again: a restarted or failed-over PostgreSQL
#: takes a few seconds to accept connections.
RETRY_AFTER_SECONDS = 5

_WROTE = "_cardservice_db_wrote"
_RETRIED = "_cardservice_db_retried"


def init_app(app: Flask) -> None:
    """Track writes on every engine of the app, and forget the previous request's marks."""
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "before_cursor_execute", _note_write)

    @app.before_request
    def _fresh_marks() -> None:
        # Tests (and CLI commands) may run several requests in one app context, hence one `g`.
        g.pop(_WROTE, None)
        g.pop(_RETRIED, None)

    # Runs before Flask-SQLAlchemy's own teardown (teardowns run in reverse order), which then
    # finds nothing left to do.
    @app.teardown_appcontext
    def _end_session(_exc: BaseException | None) -> None:
        # Closing the session rolls back what the request left open (its last reads). If the
        # connection died after the answer was built, that rollback raises: the answer must
        # still go out, and this thread's next request must get a fresh session.
        _discard_session(remove=True)


# First words of statements that change nothing: reads, and the transaction and session
# set-up around them (SQLite's BEGIN IMMEDIATE, security._sqlite_begin_immediate).
_NOT_WRITES = frozenset(("SELECT", "BEGIN", "SHOW", "SET"))


def _note_write(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    # Anything else counts as a write: INSERT, UPDATE, DELETE, a WITH that may write.
    words = statement.split(None, 1)
    if (not words or words[0].upper() not in _NOT_WRITES) and has_app_context():
        setattr(g, _WROTE, True)


def is_transient(exc: BaseException) -> bool:
    """True for failures a retry a few seconds later can cure: a lost connection, the
    driver's operational errors (server shutting down, lock or statement timeout, serialization
    failure, SQLite busy) and an exhausted pool."""
    if isinstance(exc, PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    )


def rollback() -> None:
    """Drop the session's transaction after a fault."""
    _discard_session(remove=False)


def _discard_session(*, remove: bool) -> None:
    try:
        if remove:
            db.session.remove()
        else:
            db.session.rollback()
        return
    except SQLAlchemyError:
        # The connection died under the rollback. SQLAlchemy has invalidated it, so closing
        # again only hands it back to the pool; the thread's next use gets a new session.
        log.warning("database connection lost while a session was closed; discarded")
    try:
        db.session.close()
    except SQLAlchemyError:
        log.warning("a session on a lost connection could not be closed; dropped")
    db.session.registry.clear()


def retry_read() -> Response | None:
    """Run the view again when the request is a read that has written nothing; None when it
    may not be retried (or was already). A second fault goes through the error handlers."""
    if request.method not in ("GET", "HEAD") or g.get(_WROTE) or g.get(_RETRIED):
        return None
    setattr(g, _RETRIED, True)
    log.info("database fault during %s %s: reading again", request.method, request.url_rule)
    app = current_app
    try:
        return app.make_response(app.dispatch_request())
    except Exception as exc:  # mapped like any error of the view itself
        return app.make_response(app.handle_user_exception(exc))


def log_fault(exc: BaseException) -> None:
    """One line, no parameters and no driver message (either may quote a name or an id)."""
    original = getattr(exc, "orig", None)
    cause = type(original if original is not None else exc).__name__
    sqlstate = getattr(original, "sqlstate", None)
    log.warning(
        "database unavailable during %s %s: %s%s; answered 503",
        request.method,
        request.url_rule,
        cause,
        f" (SQLSTATE {sqlstate})" if sqlstate else "",
    )
