"""Residents: nothing in clear but the creation time (docs/privacy.md, rule 2).

Name, birth date, gender marker, address, preferred language and photo live in one AES-256-GCM
blob per resident, under a data key of their own. That key is not in this database: it is kept,
wrapped by the master key, in the separate data-key store (models.keystore.ResidentKey). Erasure
deletes the key there first, then this row (crypto-shredding): a backup of this database that
still holds the ciphertext can no longer be read, even with the master key.

There is deliberately no column for nationality, immigration or residency status, document
numbers or document images, and there must never be one (a test walks the schema).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class Resident(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "resident"

    # Random, not a counter: ids appear in URLs and must not reveal how many people enrolled.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # nonce || AES-GCM ciphertext of the CBOR record; the resident id is the associated data, so
    # a blob copied onto another row does not decrypt.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC-SHA256 (index key) of the normalised name and birth date: exact lookup and duplicate
    # flagging without plaintext. Not unique: two residents may share both.
    blind_index: Mapped[str] = mapped_column(String(64), index=True)

    cards = relationship("Card", back_populates="resident", passive_deletes=True)
