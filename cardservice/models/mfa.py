"""Second factors of staff accounts: a TOTP secret, recovery codes, WebAuthn credentials.

Nothing here is usable if the database leaks alone: the TOTP secret is sealed like a resident
record (a data key wrapped by the master key, services.mfa), recovery codes are argon2id hashes,
and a WebAuthn credential is a public key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class StaffTotp(db.Model):  # type: ignore[name-defined,misc]
    """One authenticator app per account; `confirmed` once a first code proved the set-up."""

    __tablename__ = "staff_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The RFC 6238 time step of the last accepted code: a code is accepted once (no replay).
    last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """A one-time code: `lookup` (not secret) finds the row, the rest is checked by its hash."""

    __tablename__ = "staff_recovery_code"
    __table_args__ = (UniqueConstraint("user_id", "lookup"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    lookup: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class WebAuthnCredential(db.Model):  # type: ignore[name-defined,misc]
    """A passkey or security key: its id and public key (COSE), and the signature counter."""

    __tablename__ = "staff_webauthn_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    label: Mapped[str] = mapped_column(String(64))  # chosen by its owner: "blue key"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
