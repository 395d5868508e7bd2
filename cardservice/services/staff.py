"""Staff accounts: argon2id passwords, sign-in with lockout, roles (API tokens: tokens.py)."""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..i18n import LANGUAGES
from ..models import ROLES, StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from .locking import locked
from .sessions import end_sessions

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3, p=4)


def use_fast_password_hashing() -> None:
    """Cheap argon2 parameters, for test suites only (create_app calls it when ENV=testing):
    the default profile costs about a second per hash on a busy CI machine."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _dummy_hash.cache_clear()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist keeps the response time the same, so
    the login form does not reveal which user names exist. Computed on first use: hashing costs
    as much as a login, too much to pay at every import."""
    return _hasher.hash(secrets.token_urlsafe(16))


_USERNAME = re.compile(r"[A-Za-z0-9._-]{2,64}")


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


# The one ranking of roles (models.ROLES lists them lowest first); the counter and the API
# both ask role_allows().
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}


def role_allows(role: str, required: str) -> bool:
    """Roles are ordered: an admin may do what a supervisor may, who may do what a clerk may."""
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[required]


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError({"role": _l("The role is clerk, supervisor or admin.")})


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not (
        MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise ValidationError(
            {"password": _l("The password needs at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)}
        )


def insert_unique(session: DbSession, taken: ConflictError) -> None:
    """Write the new row now. The name was checked free before, but another request may have
    taken it since: the unique constraint decides, and the loser gets the same conflict."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise taken from None


def create_user(
    session: DbSession,
    *,
    username: str,
    password: str,
    role: str,
    now: datetime,
    actor: Actor,
    preferred_language: str | None = None,
) -> StaffUser:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise ValidationError(
            {"username": _l("User names use 2 to 64 letters, digits, dots, dashes or underscores.")}
        )
    check_role(role)
    _check_password(password)
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise ConflictError(_l("This user name is taken."), code="username_taken", field="username")
    user = StaffUser(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        active=True,
        failed_logins=0,
        preferred_language=preferred_language,
        created_at=now,
    )
    session.add(user)
    insert_unique(
        session,
        ConflictError(_l("This user name is taken."), code="username_taken", field="username"),
    )
    audit.record(
        session, now=now, actor=actor, action="user.create", subject=f"user:{user.id}", detail=role
    )
    session.commit()
    return user


def authenticate(
    session: DbSession,
    *,
    username: str,
    password: str,
    now: datetime,
    max_failed: int = 5,
    lockout: timedelta = timedelta(minutes=15),
) -> StaffUser:
    """Check a login. After `max_failed` failures in a row the account locks for `lockout`.

    Every attempt is counted before its password is checked, in one UPDATE ... RETURNING that
    also refuses a locked account: concurrent attempts each get their own number, so no two of
    them can both see "4 failures so far". Attempt n checks the password only if n is within
    `max_failed`; a failure that reaches the limit locks the account, and so does any attempt
    numbered past it. A right password signs in only if, once checked, the account is still
    unlocked and within the limit (the reset to zero is the same kind of guarded statement): a
    right password sent in a burst of wrong ones that passes the limit does not get in.

    Raises AuthenticationError (same message whether the user exists or not) or
    AccountLockedError. Commits the counter either way.
    """
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(), password or "-")
        raise AuthenticationError()
    user_id, password_hash = user.id, user.password_hash
    unlocked = or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now)
    attempt = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .returning(StaffUser.failed_logins)
        .execution_options(synchronize_session=False)
    )
    # Committed before the slow password check, so concurrent attempts see this one.
    session.commit()
    if attempt is None:
        raise AccountLockedError()
    if attempt > max_failed:
        _lock(session, user_id, now=now, lockout=lockout, unlocked=unlocked)
        raise AccountLockedError()
    try:
        # No transaction is open during the check (SQLite would hold its write lock through it).
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        if attempt >= max_failed:
            _lock(session, user_id, now=now, lockout=lockout, unlocked=unlocked)
            raise AccountLockedError() from None
        raise AuthenticationError() from None
    signed_in = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked, StaffUser.failed_logins <= max_failed)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if signed_in is None:
        session.commit()
        raise AccountLockedError()
    user = locked(session, StaffUser, user_id)
    assert user is not None  # the UPDATE above just found it, and this transaction holds it
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, now=now, actor=Actor.staff(user.id), action="user.login")
    session.commit()
    return user


def _lock(
    session: DbSession, user_id: int, *, now: datetime, lockout: timedelta, unlocked: Any
) -> None:
    """Lock the account now, unless a concurrent attempt already did (one audit entry per
    lockout). The counter starts again from zero when the lockout ends."""
    locked_now = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked)
        .values(locked_until=now + lockout, failed_logins=0)
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if locked_now is not None:
        audit.record(
            session,
            now=now,
            actor=Actor.system("login"),
            action="user.lock",
            subject=f"user:{user_id}",
        )
    session.commit()


def set_password(
    session: DbSession, *, user_id: int, password: str, now: datetime, actor: Actor
) -> None:
    _check_password(password)
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    # A new password ends every session made with the old one, in the same transaction.
    end_sessions(user.id, db_session=session, commit=False)
    audit.record(session, now=now, actor=actor, action="user.password", subject=f"user:{user.id}")
    session.commit()


def set_user_active(
    session: DbSession, *, user_id: int, active: bool, now: datetime, actor: Actor
) -> StaffUser:
    if not active and actor.staff_id == user_id:
        # An administrator locking themselves out could leave the city with no administrator.
        raise ConflictError(_l("You cannot deactivate your own account."), code="self_deactivation")
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.active = active
    if not active:
        end_sessions(user.id, db_session=session, commit=False)
    action = "user.activate" if active else "user.deactivate"
    audit.record(session, now=now, actor=actor, action=action, subject=f"user:{user.id}")
    session.commit()
    return user


def set_preferred_language(
    session: DbSession, *, user_id: int, language: str | None, now: datetime, actor: Actor
) -> StaffUser:
    """Set the language of a staff member's counter screens; None follows the browser.

    Only the languages the counter ships complete catalogs for are accepted.
    """
    if language is not None and language not in LANGUAGES:
        raise ValidationError({"language": _l("Choose one of the listed languages.")})
    user = locked(session, StaffUser, user_id)
    if user is None:
        raise NotFoundError(_l("No such user."))
    user.preferred_language = language
    subject = f"user:{user.id}"
    audit.record(
        session, now=now, actor=actor, action="user.language", subject=subject, detail=language
    )
    session.commit()
    return user


def list_users(session: DbSession) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))
