"""Server-side staff sessions: their rules and their storage (table staff_session).

The counter's session lives in the resident database, not in the cookie
(cardservice/serversession.py plugs it into Flask). The database, not Redis, because:

* the two instances of the reference deployment share one PostgreSQL already, and Redis is only
  optional there (the sign-in rate limit); a session store must be as durable and as shared as
  the accounts it belongs to;
* ending sessions is part of the account change that causes it: a password reset or a
  deactivation deletes the member's sessions in the same transaction as the change, so there is
  no moment where the new password is set and an old session still works (or the reverse);
* an administrator's list of active sessions is one indexed query.

The cost is one primary-key read per staff request and a write at most once a minute per session
(``touch_every``), measured in docs/performance.md.

Timeouts: a session dies ``idle`` after its last request and in any case ``absolute`` after it
began (sign-in starts a new session: serversession rotates the id). Expired rows are deleted a
few at a time whenever a session is created, so the table stays bounded without a cron job.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, insert, select, update

from ..extensions import db
from ..models import StaffSession, StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import NotFoundError

#: Expired rows removed each time a session is created (amortised clean-up).
PURGE_BATCH = 50
#: How recent a sign-in (or second factor) must be to stand for "authenticated again".
REAUTH_WINDOW = timedelta(minutes=10)


def recently_authenticated(data: Mapping[str, Any], *, now: datetime) -> bool:
    """Whether the session's last sign-in or second factor (``auth_at``, ``mfa_at``: UTC epoch
    seconds) lies within REAUTH_WINDOW: ASVS 7.5.2 asks for one before ending sessions."""
    latest = max(
        (value for value in (data.get("auth_at"), data.get("mfa_at")) if isinstance(value, int)),
        default=None,
    )
    return latest is not None and 0 <= now.timestamp() - latest <= REAUTH_WINDOW.total_seconds()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    @property
    def touch_every(self) -> timedelta:
        """How stale ``last_seen_at`` may get before a request writes it again: a minute, or less
        for very short idle timeouts, so the idle deadline is never off by more than that."""
        return min(timedelta(minutes=1), self.idle / 30)

    def deadlines(self, *, now: datetime, started: datetime) -> tuple[datetime, datetime]:
        absolute = started + self.absolute
        return min(now + self.idle, absolute), absolute


@dataclass(frozen=True)
class StoredSession:
    row_id: int
    staff_id: int | None
    data: str
    last_seen_at: datetime
    created_at: datetime
    absolute_expires_at: datetime


def new_session_id() -> str:
    """256 bits from the operating system's generator (ASVS 7.2.3 asks for 128 at least)."""
    return secrets.token_urlsafe(32)


def digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


# Built once: the hot path (every staff request) then only binds values. Run on the session's
# connection, Core rather than ORM, which halves its cost (bench/bench_sessions.py). Its columns
# are named as StoredSession's fields.
_LOAD = select(
    StaffSession.id.label("row_id"),
    StaffSession.staff_id,
    StaffSession.data,
    StaffSession.last_seen_at,
    StaffSession.created_at,
    StaffSession.absolute_expires_at,
).where(StaffSession.sid_hash == bindparam("sid_hash"), StaffSession.expires_at > bindparam("now"))


def load(conn: DbSession, sid: str, *, now: datetime) -> StoredSession | None:
    """The live session for a cookie's id, or None (unknown, ended or expired)."""
    if not sid or len(sid) > 100:
        return None
    row = conn.connection().execute(_LOAD, {"sid_hash": digest(sid), "now": now}).first()
    return None if row is None else StoredSession(**row._mapping)


def create(
    conn: DbSession,
    sid: str,
    *,
    staff_id: int | None,
    data: str,
    now: datetime,
    policy: SessionPolicy,
    replaces: int | None = None,
) -> tuple[int, datetime]:
    """Store a new session (and delete the one it replaces: the id rotates). Returns its row id
    and absolute deadline."""
    if replaces is not None:
        discard(conn, replaces)
    expired = (
        select(StaffSession.id).where(StaffSession.expires_at <= now).limit(PURGE_BATCH)
    ).scalar_subquery()
    conn.execute(
        delete(StaffSession)
        .where(StaffSession.id.in_(expired))
        .execution_options(synchronize_session=False)
    )
    expires, absolute = policy.deadlines(now=now, started=now)
    row_id = conn.execute(
        insert(StaffSession)
        .values(
            sid_hash=digest(sid),
            staff_id=staff_id,
            data=data,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            absolute_expires_at=absolute,
        )
        .returning(StaffSession.id)
    ).scalar_one()
    return row_id, absolute


def store(
    conn: DbSession,
    stored: StoredSession,
    *,
    data: str | None,
    now: datetime,
    policy: SessionPolicy,
) -> bool:
    """Write a live session's new contents (None: only its last use). False when the session
    was ended or expired meanwhile: it is not brought back."""
    expires, _absolute = policy.deadlines(now=now, started=stored.created_at)
    values: dict[str, object] = {"last_seen_at": now, "expires_at": expires}
    if data is not None:
        values["data"] = data
    result = conn.execute(
        update(StaffSession)
        .where(StaffSession.id == stored.row_id, StaffSession.expires_at > now)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def discard(conn: DbSession, row_id: int) -> None:
    conn.execute(
        delete(StaffSession)
        .where(StaffSession.id == row_id)
        .execution_options(synchronize_session=False)
    )


def _current_row_id() -> int | None:
    # The one place a service looks at the request: "except the current session" is only
    # meaningful inside one, and the callers (password change, factor change) are views.
    if not has_request_context():
        return None
    from flask import session

    return getattr(session, "row_id", None)


def end_sessions(
    staff_id: int,
    except_current: bool = False,
    *,
    db_session: DbSession | None = None,
    commit: bool = True,
) -> int:
    """End every session of a staff member (logout everywhere, password or factor change,
    deactivation); with ``except_current``, all but the request's own. Returns how many ended.

    Runs in ``db_session``'s transaction (default: the request's), so a caller that changes
    the account first and then calls this commits both together; ``commit=False`` leaves the
    commit to the caller.
    """
    session = db_session if db_session is not None else db.session
    query = delete(StaffSession).where(StaffSession.staff_id == staff_id)
    current = _current_row_id() if except_current else None
    if current is not None:
        query = query.where(StaffSession.id != current)
    result = session.execute(query.execution_options(synchronize_session=False))
    ended = getattr(result, "rowcount", 0)
    if commit:
        session.commit()
    return int(ended or 0)


def end_session(session: DbSession, *, row_id: int, now: datetime, actor: Actor) -> None:
    """An administrator ends one session (by its row id, never by its secret id)."""
    staff_id = session.scalar(
        select(StaffSession.staff_id).where(
            StaffSession.id == row_id,
            StaffSession.staff_id.is_not(None),
            StaffSession.expires_at > now,
        )
    )
    if staff_id is None:
        raise NotFoundError(_l("No active session has this id."))
    session.execute(
        delete(StaffSession)
        .where(StaffSession.id == row_id)
        .execution_options(synchronize_session=False)
    )
    audit.record_for_user(session, staff_id, now=now, actor=actor, action="session.end")
    session.commit()


def end_user_sessions(session: DbSession, *, staff_id: int, now: datetime, actor: Actor) -> int:
    """An administrator ends every session of one staff member."""
    if session.get(StaffUser, staff_id) is None:
        raise NotFoundError(_l("No such user."))
    ended = end_sessions(staff_id, db_session=session, commit=False)
    audit.record_for_user(
        session, staff_id, now=now, actor=actor, action="session.end_user", detail=str(ended)
    )
    session.commit()
    return ended


def end_everyones_sessions(
    session: DbSession, *, now: datetime, actor: Actor, keep_row_id: int | None
) -> int:
    """An administrator ends every signed-in session but their own (``keep_row_id``), e.g.
    after a suspected compromise. Sign-in pages' anonymous sessions are left alone."""
    query = delete(StaffSession).where(StaffSession.staff_id.is_not(None))
    if keep_row_id is not None:
        query = query.where(StaffSession.id != keep_row_id)
    result = session.execute(query.execution_options(synchronize_session=False))
    ended = int(getattr(result, "rowcount", 0) or 0)
    audit.record(session, now=now, actor=actor, action="session.end_everyone", detail=str(ended))
    session.commit()
    return ended


def end_own_session(session: DbSession, *, staff_id: int, row_id: int, now: datetime) -> None:
    """A staff member ends one of their own sessions (another browser, a lost laptop)."""
    result = session.execute(
        delete(StaffSession)
        .where(StaffSession.id == row_id, StaffSession.staff_id == staff_id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        session.rollback()
        raise NotFoundError(_l("No active session has this id."))
    audit.record_for_user(
        session, staff_id, now=now, actor=Actor.staff(staff_id), action="session.end_own"
    )
    session.commit()


def sign_out_everywhere(session: DbSession, *, staff_id: int, now: datetime) -> int:
    """A staff member ends all their own sessions (the request's too)."""
    ended = end_sessions(staff_id, db_session=session, commit=False)
    audit.record_for_user(
        session, staff_id, now=now, actor=Actor.staff(staff_id), action="session.end_all"
    )
    session.commit()
    return ended


@dataclass(frozen=True)
class SessionInfo:
    """What a staff member or an administrator sees of a session: no address, no browser."""

    id: int
    staff_id: int
    username: str
    role: str
    started_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def list_sessions(
    session: DbSession, *, now: datetime, staff_id: int | None = None
) -> list[SessionInfo]:
    """Live signed-in sessions, newest use first; one member's when ``staff_id`` is given."""
    query = (
        select(StaffSession, StaffUser.username, StaffUser.role)
        .join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .where(StaffSession.expires_at > now)
        .order_by(StaffSession.last_seen_at.desc(), StaffSession.id.desc())
    )
    if staff_id is not None:
        query = query.where(StaffSession.staff_id == staff_id)
    return [
        SessionInfo(
            id=row.id,
            staff_id=int(row.staff_id or 0),
            username=username,
            role=role,
            started_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
        )
        for row, username, role in session.execute(query)
    ]
