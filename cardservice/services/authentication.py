"""Signing in with a password: the check, the lockout, and wrong second factors counted in the
same counter (the accounts themselves: services.staff). A browser with a device cookie for the
account has a counter and a lockout of its own (services.devices)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from ..models import StaffUser
from . import audit
from ._types import DbSession
from .audit import Actor
from .devices import Counter, TrustedDevice, counter_for
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
    device: TrustedDevice | None = None,
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

    `device`, a browser with a valid device cookie for this account, is trusted: all of the
    above counts on that browser's own counter, and the account's lockout does not refuse it
    (a cookie of another account is ignored). Same answers, same work.

    Raises AuthenticationError (AccountLockedError, a subclass with the same message, for a
    locked account). Commits the counter either way.
    """
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active:
        verify_dummy(password)
        raise AuthenticationError()
    user_id, password_hash = user.id, user.password_hash
    counter = counter_for(user_id, device)
    # Committed before the slow password check, so concurrent attempts see this one.
    attempt = _count_attempt(session, counter, now)
    if attempt is None or attempt > max_failed:
        verify_dummy(password)
        if attempt is not None:
            _lock(session, counter, now=now, lockout=lockout)
        raise AccountLockedError()
    # No transaction is open during the check (SQLite would hold its write lock through it).
    if not verify_password(password_hash, password):
        if attempt >= max_failed:
            _lock(session, counter, now=now, lockout=lockout)
            raise AccountLockedError()
        raise AuthenticationError()
    model = counter.model
    values: dict[str, Any] = (
        {"failed_logins": model.failed_logins - 1}
        if steps_follow
        else {"failed_logins": 0, "lockouts": 0, "locked_until": None}
    )
    signed_in = session.scalar(
        update(model)
        .where(counter.row, counter.unlocked(now), model.failed_logins <= max_failed)
        .values(**values)
        .returning(model.id)
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
        user.last_login_at = now
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
    device: TrustedDevice | None = None,
) -> None:
    """A wrong second factor counts like a wrong password, in the same counter (the trusted
    browser's, or the account's), so knowing the password does not buy unlimited guesses at
    the codes."""
    counter = counter_for(user_id, device)
    attempt = _count_attempt(session, counter, now)
    if attempt is not None and attempt >= max_failed:
        _lock(session, counter, now=now, lockout=lockout)


def _count_attempt(session: DbSession, counter: Counter, now: datetime) -> int | None:
    """Count one attempt on an unlocked counter, committed: its number in the run of
    failures, or None when it is locked (then nothing is counted) or gone."""
    model = counter.model
    attempt = session.scalar(
        update(model)
        .where(counter.row, counter.unlocked(now))
        .values(failed_logins=model.failed_logins + 1)
        .returning(model.failed_logins)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return None if attempt is None else int(attempt)


def is_locked(
    session: DbSession, user_id: int, *, now: datetime, device: TrustedDevice | None = None
) -> bool:
    """Whether sign-ins to `user_id` from this browser are refused now: the trusted browser's
    own lockout (a row gone counts as locked), or the account's for any other."""
    counter = counter_for(user_id, device)
    found = session.execute(select(counter.model.locked_until).where(counter.row)).first()
    return found is None or (found.locked_until is not None and found.locked_until > now)


def _lock(session: DbSession, counter: Counter, *, now: datetime, lockout: timedelta) -> None:
    """Lock the counter now, unless a concurrent attempt already did (one audit entry per
    lockout, on the account, without anything of the browser's cookie). The counter starts
    again from zero when the lockout ends; the lockout count stays, so the next one lasts
    twice as long."""
    model = counter.model
    before = session.scalar(select(model.lockouts).where(counter.row)) or 0
    locked_now = session.scalar(
        update(model)
        .where(counter.row, counter.unlocked(now))
        .values(
            locked_until=now + lockout_length(before, lockout),
            failed_logins=0,
            lockouts=model.lockouts + 1,
        )
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    if locked_now is not None:
        audit.record_for_user(
            session,
            counter.user_id,
            now=now,
            actor=Actor.system("login"),
            action=counter.lock_action,
        )
    session.commit()
