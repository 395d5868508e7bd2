"""Issued cards. The row survives the resident's erasure: the card stays verifiable (or revoked)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime

CARD_STATUSES = ("valid", "revoked", "suspended")


class Card(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "card"
    __table_args__ = (
        CheckConstraint("status IN ('valid', 'revoked', 'suspended')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "XXXX-XXX" from cardformat.generate_card_number(): printed, typed, searched.
    number: Mapped[str] = mapped_column(String(8), unique=True)
    resident_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("resident.id", ondelete="SET NULL"), index=True, default=None
    )
    # Global index into the status lists, allocated at random (herd privacy).
    status_index: Mapped[int] = mapped_column(Integer, unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(10), default="valid")
    # Machine code of the last revocation or suspension reason (e.g. "lost"), never free text.
    status_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The signing key of the latest token printed for this card: after a key compromise these
    # are the cards to reprint.
    kid: Mapped[str] = mapped_column(String(16), index=True)
    last_printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    resident = relationship("Resident", back_populates="cards")
