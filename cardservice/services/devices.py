"""Device cookies: the browsers a staff member signed in from, and their own lockout.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a browser that completed a
sign-in with the account's password (and second factor) gets a cookie naming it. When it signs
in again, its failures count against that browser alone, and the account's lockout, which
anyone who knows a user name can trigger, does not refuse it. Browsers without a valid cookie
for the account (the guessers') get the account lockout unchanged (services.authentication).

The cookie holds a random 128-bit nonce, signed with the app's secret key (itsdangerous, a salt
of its own): no user name, no user id. The server keeps the nonce's SHA-256 with the account it
was issued to and when (StaffDevice), so a cookie is trusted only for that account, only while
its row lives, and a copy of the table trusts no browser. Each sign-in replaces the browser's
cookie and row (rotation), and the rows of cookies past their lifetime are deleted then.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, or_, select

from ..models import StaffDevice, StaffUser
from ._types import DbSession

COOKIE_NAME = "cardservice_device"
_SALT = "cardservice.device-cookie"
# A signed 22-character nonce is about 50 characters: anything much longer is not ours.
_MAX_COOKIE_LENGTH = 200


@dataclass(frozen=True)
class TrustedDevice:
    """A browser whose cookie is valid and unexpired, and the account it was issued to."""

    nonce_hash: str
    staff_id: int


@dataclass(frozen=True)
class Counter:
    """Where an attempt's failure counts, with its lockout: the account (every untrusted
    browser shares it) or one trusted browser. Both tables have the same three columns
    (failed_logins, lockouts, locked_until)."""

    model: Any
    row: Any
    user_id: int
    lock_action: str

    def unlocked(self, now: datetime) -> Any:
        """The condition of a counter that is not locked at `now`."""
        return or_(self.model.locked_until.is_(None), self.model.locked_until <= now)


def counter_for(user_id: int, device: TrustedDevice | None) -> Counter:
    """The counter of a sign-in to `user_id`: its browser's when that browser is trusted for
    this very account, the account's otherwise (a cookie of another account counts for
    nothing)."""
    if device is not None and device.staff_id == user_id:
        return Counter(
            StaffDevice,
            (StaffDevice.nonce_hash == device.nonce_hash) & (StaffDevice.staff_id == user_id),
            user_id,
            "user.device_lock",
        )
    return Counter(StaffUser, StaffUser.id == user_id, user_id, "user.lock")


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_SALT)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def trusted(
    session: DbSession, *, secret_key: str, value: str | None, now: datetime, days: int
) -> TrustedDevice | None:
    """The browser a cookie value names, or None: no cookie, the scheme off (`days` 0), a
    forged or altered value, a row deleted (replaced at a later sign-in) or older than `days`."""
    if days <= 0 or not value or len(value) > _MAX_COOKIE_LENGTH:
        return None
    try:
        nonce = _serializer(secret_key).loads(value)
    except BadSignature:
        return None
    if not isinstance(nonce, str) or not nonce.isascii():
        return None
    return known(session, nonce_hash=_hash(nonce), now=now, days=days)


def known(session: DbSession, *, nonce_hash: str, now: datetime, days: int) -> TrustedDevice | None:
    """The browser whose cookie's nonce hashes to `nonce_hash`, while its row lives and is
    younger than `days` (a signed-in session remembers its browser this way)."""
    found = session.execute(
        select(StaffDevice.nonce_hash, StaffDevice.staff_id).where(
            StaffDevice.nonce_hash == nonce_hash,
            StaffDevice.issued_at > now - timedelta(days=days),
        )
    ).first()
    return None if found is None else TrustedDevice(found.nonce_hash, int(found.staff_id))


def issue(
    session: DbSession,
    *,
    secret_key: str,
    user_id: int,
    now: datetime,
    days: int,
    replaces: TrustedDevice | None,
) -> tuple[str, TrustedDevice]:
    """A new cookie value for a browser that just signed `user_id` in, and that browser; the
    browser's previous row (its counter with it) and every expired row go. Commits."""
    if replaces is not None:
        session.execute(delete(StaffDevice).where(StaffDevice.nonce_hash == replaces.nonce_hash))
    session.execute(delete(StaffDevice).where(StaffDevice.issued_at <= now - timedelta(days=days)))
    nonce = secrets.token_urlsafe(16)  # 128 random bits
    device = TrustedDevice(_hash(nonce), user_id)
    session.add(StaffDevice(nonce_hash=device.nonce_hash, staff_id=user_id, issued_at=now))
    session.commit()
    return _serializer(secret_key).dumps(nonce), device
