"""The append-only, hash-chained audit log of staff actions.

Who (actor), what (action), which card, when; never a name, birth date or address. Each entry
carries the hash of the previous one, so an edited, inserted or deleted entry breaks the chain.
The single `audit_head` row holds the latest hash; appending locks it, which serialises writers
and keeps the chain linear under concurrency.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # "staff:<id>", "token:<id>" or "system:<command>"
    actor: Mapped[str] = mapped_column(String(40))
    staff_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    action: Mapped[str] = mapped_column(String(40))
    card_number: Mapped[str | None] = mapped_column(String(8), default=None, index=True)
    # A pseudonymous object reference: "resident:<random id>", "key:<kid>", "user:<id>".
    subject: Mapped[str | None] = mapped_column(String(64), default=None)
    # A machine code (e.g. a revocation reason), never free text typed by staff.
    detail: Mapped[str | None] = mapped_column(String(64), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer, default=0)
