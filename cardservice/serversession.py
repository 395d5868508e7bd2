"""Flask's session, kept server side (services/sessions.py holds the rules and the storage).

The cookie carries only a random id. Everything put in ``flask.session`` (the CSRF token,
Flask-Login's keys, flashed messages, ``mfa_at`` and ``amr``) is stored in the staff_session
table, indexed by staff member, so a session can be ended from anywhere: a logout, a password or
factor change, a deactivation, an administrator.

The id changes whenever the signed-in identity does (sign-in, sign-out, another account), so an
id planted before sign-in is worthless after it (session fixation); ``rotate_session_id()`` asks
for a new id otherwise (e.g. after a step-up). A session ended meanwhile is never written back.

Storage runs on the request's ``db.session``, each step in its own short transaction: reading
the session commits before the view starts, and saving first rolls back whatever the view left
open (services commit what they mean to keep; Flask-SQLAlchemy would discard the rest at
teardown anyway). A second connection would wait behind the view's own SQLite write lock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, current_app, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from . import dbfaults
from .extensions import db
from .services import sessions as store
from .services import utcnow

log = logging.getLogger("cardservice.sessions")
#: Paths whose requests never use the session (the counter's static files, the JSON API, the
#: public documents, the health check).
SESSIONLESS_PATHS = ("/counter-static/", "/api/", "/.well-known/", "/healthz")
_serializer = TaggedJSONSerializer()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The request's session: a dict whose changes mark it for storage."""

    def __init__(self, initial: dict[str, Any] | None = None, *, stored: Any = None) -> None:
        def on_update(self: ServerSession) -> None:
            self.modified = True
            self.accessed = True

        super().__init__(initial, on_update)
        self.stored: store.StoredSession | None = stored
        self.sid: str | None = None
        self.modified = False
        self.accessed = False
        self.rotate = False
        # The storage failed while the session was opened: nothing is written back.
        self.failed: SQLAlchemyError | None = None
        # A request that has no use for the session (SESSIONLESS_PATHS): never stored.
        self.detached = False

    # Reading marks the session accessed too (as Flask's own session does): the answer then
    # carries "Vary: Cookie".
    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().setdefault(key, default)

    @property
    def row_id(self) -> int | None:
        return self.stored.row_id if self.stored else None

    @property
    def loaded_staff_id(self) -> int | None:
        return self.stored.staff_id if self.stored else None


def rotate_session_id() -> None:
    """Give the current session a new id at the end of this request (the old one dies)."""
    if isinstance(session, ServerSession):
        session.rotate = True


def _staff_id(data: ServerSession) -> int | None:
    value = data.get("_user_id")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def policy(app: Flask) -> store.SessionPolicy:
    return store.SessionPolicy(
        idle=timedelta(minutes=int(app.config["SESSION_IDLE_MINUTES"])),
        absolute=timedelta(minutes=int(app.config["SESSION_ABSOLUTE_MINUTES"])),
    )


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid:
            return ServerSession()
        if request.path.startswith(SESSIONLESS_PATHS):
            # Stylesheets, scripts and the bearer-token API need no session: no database read
            # for them, and nothing written back.
            detached = ServerSession()
            detached.detached = True
            return detached
        try:
            stored = store.load(db.session, sid, now=utcnow())
            db.session.commit()
        except SQLAlchemyError as exc:
            dbfaults.rollback()
            failed = ServerSession()
            failed.failed = exc
            return failed
        if stored is None:
            return ServerSession()
        try:
            data = _serializer.loads(stored.data)
        except ValueError:
            log.warning("a stored session could not be read; a new one starts")
            return ServerSession()
        opened = ServerSession(data, stored=stored)
        opened.sid = sid
        return opened

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, ServerSession) or session.failed or session.detached:
            return
        if session.accessed:
            response.vary.add("Cookie")
        try:
            db.session.rollback()
            self._save(app, session, response)
            db.session.commit()
        except SQLAlchemyError as exc:
            dbfaults.rollback()
            # The answer is already built; the session change is lost, which the next
            # request shows (e.g. back on the sign-in page). Never the driver's message.
            log.warning("session not saved: %s", type(exc).__name__)

    def _save(self, app: Flask, session: ServerSession, response: Response) -> None:
        now = utcnow()
        rules = policy(app)
        stored = session.stored
        staff_id = _staff_id(session)
        if stored is not None and (session.rotate or staff_id != stored.staff_id):
            if not session:
                self._forget(app, response, stored.row_id)
                return
            self._create(app, session, response, staff_id, now, rules, replaces=stored.row_id)
        elif stored is None:
            if session:  # nothing stored for a visitor who put nothing in the session
                self._create(app, session, response, staff_id, now, rules)
        elif not session:
            if session.modified:
                self._forget(app, response, stored.row_id)
        elif session.modified or now - stored.last_seen_at >= rules.touch_every:
            data = _serializer.dumps(dict(session)) if session.modified else None
            alive = store.store(db.session, stored, data=data, now=now, policy=rules)
            if not alive:
                self._delete_cookie(app, response)

    def _create(
        self,
        app: Flask,
        session: ServerSession,
        response: Response,
        staff_id: int | None,
        now: datetime,
        rules: store.SessionPolicy,
        replaces: int | None = None,
    ) -> None:
        sid = store.new_session_id()
        _row, absolute = store.create(
            db.session,
            sid,
            staff_id=staff_id,
            data=_serializer.dumps(dict(session)),
            now=now,
            policy=rules,
            replaces=replaces,
        )
        response.set_cookie(
            self.get_cookie_name(app),
            sid,
            # A permanent session's cookie lasts as long as the session can; otherwise it
            # goes when the browser closes.
            expires=absolute if session.permanent else None,
            httponly=self.get_cookie_httponly(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )

    def _forget(self, app: Flask, response: Response, row_id: int) -> None:
        store.discard(db.session, row_id)
        self._delete_cookie(app, response)

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )


def init_app(app: Flask) -> None:
    app.session_interface = DatabaseSessionInterface()

    @app.before_request
    def _session_storage_failed() -> None:
        # The session could not be read: answer as any database fault does (dbfaults: 503),
        # rather than showing a signed-in member the sign-in page.
        failed = getattr(session, "failed", None)
        if failed is not None:
            raise failed

    # Flask-Login's "strong" protection keeps a digest of address and browser in the session;
    # keyed with the app's secret it cannot be reversed into an address by trying them all.
    from .extensions import login_manager

    login_manager._session_identifier_generator = _keyed_identifier


def _keyed_identifier() -> str:
    import hashlib
    import hmac

    from flask import request

    agent = request.headers.get("User-Agent", "")
    address = request.remote_addr or ""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"{address}|{agent}".encode(), hashlib.sha256).hexdigest()
