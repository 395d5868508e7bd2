"""Staff accounts and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

ROLES = ("clerk", "supervisor", "admin")


class StaffUser(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "staff_user"
    __table_args__ = (CheckConstraint("role IN ('clerk', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # argon2id hash (argon2-cffi, PHC string): parameters travel with the hash.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    preferred_language: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when an administrator (or the CLI) chose the password: the next sign-in changes it.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Lockouts in a row: each lasts twice the one before, up to a cap (services.staff).
    lockouts: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated accounts cannot log in
        return bool(self.active)


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token for the JSON API. Only its SHA-256 is stored; it is shown once."""

    __tablename__ = "api_token"
    __table_args__ = (CheckConstraint("role IN ('clerk', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Tokens expire (default 90 days, services/tokenscopes.py) and carry the endpoints they may
    # call, space-separated scopes, within what their role allows.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scopes: Mapped[str] = mapped_column(String(512))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
