"""Server-side staff sessions, the staff members' single sign-on identities, and the browsers
they signed in from (device cookies)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class StaffSession(db.Model):  # type: ignore[name-defined,misc]
    """One browser session of the counter (everything Flask keeps in ``flask.session``).

    The cookie carries a random id; only its SHA-256 is stored, so a copy of this table signs
    nobody in. ``staff_id`` indexes the session by staff member so that a logout elsewhere, a
    password or factor change, a deactivation or an administrator can end it. No address and no
    browser description are kept (docs/security.md, V7).
    """

    __tablename__ = "staff_session"
    __table_args__ = (
        Index("ix_staff_session_staff_id", "staff_id"),
        Index("ix_staff_session_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("staff_user.id", ondelete="CASCADE"), default=None
    )
    # Flask's tagged JSON of the session's contents (CSRF token, Flask-Login's keys, flashes).
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The idle deadline, never later than the absolute one: the row is dead from this moment.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    absolute_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffIdentity(db.Model):  # type: ignore[name-defined,misc]
    """A staff account's link to an OpenID Connect provider's subject (services/oidc.py).

    Matching is by (issuer, subject), the only pair the standard guarantees stable and unique;
    never by e-mail or user name after the first sign-in.
    """

    __tablename__ = "staff_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_staff_identity_issuer_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class StaffDevice(db.Model):  # type: ignore[name-defined,misc]
    """A browser that signed a staff member in with their password (services/devices.py).

    Its cookie carries a random nonce; only the nonce's SHA-256 is stored, so a copy of this
    table trusts no browser. A trusted browser's failed sign-ins count here, not on the account,
    and lock only this browser out (the same three columns as StaffUser's own lockout).
    """

    __tablename__ = "staff_device"
    __table_args__ = (Index("ix_staff_device_staff_id", "staff_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
