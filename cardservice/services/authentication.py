"""Signing in with a password: the check, the lockout, and wrong second factors counted in the
same counter (the accounts themselves: services.staff)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..models import StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .errors import AccountLockedError, AuthenticationError
from .locking import locked
from .passwords import hash_password, needs_rehash, verify_dummy, verify_password

FIRST_LOCKOUT = timedelta(minutes=1)


def lockout_length(lockouts_before: int, cap: timedelta) -> timedelta:
    """The n-th lockout in a row lasts twice the one before (1, 2, 4, 8 ... minutes), at most
    `cap`: a guesser is slowed to a few tries per `cap`, and whoever locks an account keeps its
    owner out for at most `cap` after their last counted try (docs/security.md)."""
    doubled: timedelta = FIRST_LOCKOUT * (2 ** min(lockouts_before, 20))
    return min(doubled, cap)


def authenticate(
    session: DbSession,
    *,
    username: str,
    password: str,
    now: datetime,
    max_failed: int = 5,
    lockout: timedelta = timedelta(minutes=15),
    steps_follow: bool = False,
) -> StaffUser:
    """Check a login. After `max_failed` failures in a row the account locks, for
    lockout_length(): one minute, doubling with each lockout in a row, at most `lockout`.

    Every attempt is counted before its password is checked, in one UPDATE ... RETURNING that
    also refuses a locked account: concurrent attempts each get their own number, so no two of
    them can both see "4 failures so far". Attempt n checks the password only if n is within
    `max_failed`; a failure that reaches the limit locks the account, and so does any attempt
    numbered past it. A right password signs in only if, once checked, the account is still
    unlocked and within the limit (the reset to zero is the same kind of guarded statement): a
    right password sent in a burst of wrong ones that passes the limit does not get in.
    Attempts on a locked account are not counted and do not extend the lockout.

    Unknown user, wrong password and locked account give the same answer after the same work
    (one argon2 verification each): the form tells an attacker nothing about which it was.
    With `steps_follow`, a right password only undoes its own count: the failures
    reset when the second factor completes the sign-in (services.mfa.complete_sign_in), so
    wrong codes tried between right passwords add up to a lockout too.

    Raises AuthenticationError (AccountLockedError, a subclass with the same message, for a
    locked account). Commits the counter either way.
    """
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active:
        verify_dummy(password)
        raise AuthenticationError()
    user_id, password_hash = user.id, user.password_hash
    unlocked = _unlocked(now)
    # Committed before the slow password check, so concurrent attempts see this one.
    attempt = _count_attempt(session, user_id, unlocked)
    if attempt is None or attempt > max_failed:
        verify_dummy(password)
        if attempt is not None:
            _lock(session, user_id, now=now, lockout=lockout, unlocked=unlocked)
        raise AccountLockedError()
    # No transaction is open during the check (SQLite would hold its write lock through it).
    if not verify_password(password_hash, password):
        if attempt >= max_failed:
            _lock(session, user_id, now=now, lockout=lockout, unlocked=unlocked)
            raise AccountLockedError()
        raise AuthenticationError()
    values: dict[str, Any] = (
        {"failed_logins": StaffUser.failed_logins - 1}
        if steps_follow
        else {"failed_logins": 0, "lockouts": 0, "locked_until": None, "last_login_at": now}
    )
    signed_in = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked, StaffUser.failed_logins <= max_failed)
        .values(**values)
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if signed_in is None:
        session.commit()
        raise AccountLockedError()
    user = locked(session, StaffUser, user_id)
    assert user is not None  # the UPDATE above just found it, and this transaction holds it
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not steps_follow:
        audit.record(session, now=now, actor=Actor.staff(user.id), action="user.login")
    session.commit()
    return user


def record_failed_factor(
    session: DbSession,
    *,
    user_id: int,
    now: datetime,
    max_failed: int = 5,
    lockout: timedelta = timedelta(minutes=15),
) -> None:
    """A wrong second factor counts like a wrong password, in the same counter, so knowing the
    password does not buy unlimited guesses at the codes."""
    unlocked = _unlocked(now)
    attempt = _count_attempt(session, user_id, unlocked)
    if attempt is not None and attempt >= max_failed:
        _lock(session, user_id, now=now, lockout=lockout, unlocked=unlocked)


def _unlocked(now: datetime) -> Any:
    """The condition of an account that is not locked at `now`."""
    return or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now)


def _count_attempt(session: DbSession, user_id: int, unlocked: Any) -> int | None:
    """Count one attempt on an unlocked account, committed: its number in the run of
    failures, or None when the account is locked (then nothing is counted)."""
    attempt = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .returning(StaffUser.failed_logins)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return attempt


def is_locked(session: DbSession, user_id: int, *, now: datetime) -> bool:
    until = session.scalar(select(StaffUser.locked_until).where(StaffUser.id == user_id))
    return until is not None and until > now


def _lock(
    session: DbSession, user_id: int, *, now: datetime, lockout: timedelta, unlocked: Any
) -> None:
    """Lock the account now, unless a concurrent attempt already did (one audit entry per
    lockout). The counter starts again from zero when the lockout ends; the lockout count
    stays, so the next one lasts twice as long."""
    before = session.scalar(select(StaffUser.lockouts).where(StaffUser.id == user_id)) or 0
    locked_now = session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user_id, unlocked)
        .values(
            locked_until=now + lockout_length(before, lockout),
            failed_logins=0,
            lockouts=StaffUser.lockouts + 1,
        )
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if locked_now is not None:
        audit.record_for_user(
            session, user_id, now=now, actor=Actor.system("login"), action="user.lock"
        )
    session.commit()
