"""Residents: nothing in clear but the creation time (DESIGN.md section 5 rule 2).

Name, birth date, gender marker, address, preferred language and photo live in one AES-256-GCM
blob per resident, under a data key of their own; that key is stored only wrapped by the master
key. Erasure deletes the row and with it the wrapped key (crypto-shredding): a backup that still
holds the ciphertext can no longer be read.

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
    # Which master key wrapped the data key (lets a master-key rotation re-wrap in place).
    master_key_id: Mapped[str] = mapped_column(String(32))
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    # nonce || AES-GCM ciphertext of the CBOR record; the resident id is the associated data, so
    # a blob copied onto another row does not decrypt.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # HMAC-SHA256 (index key) of the normalised name and birth date: exact lookup and duplicate
    # flagging without plaintext. Not unique: two residents may share both.
    blind_index: Mapped[str] = mapped_column(String(64), index=True)

    cards = relationship("Card", back_populates="resident", passive_deletes=True)
