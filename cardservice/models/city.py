"""The city, its keys and its status lists: what the city publishes to its partners."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

# The primary key of the city row: one deployment, one city, so init-city always inserts this id
# and a concurrent second run fails on the primary key (services.keys.init_city).
CITY_ID = 1


class City(db.Model):  # type: ignore[name-defined,misc]
    """The one issuing city of this deployment (init-city refuses to create a second)."""

    __tablename__ = "city"

    id: Mapped[int] = mapped_column(primary_key=True)
    # UN/LOCODE, e.g. "FR SXB": the `iss` of every card.
    code: Mapped[str] = mapped_column(String(6), unique=True)
    # Display names by language tag, e.g. {"fr": "Strasbourg", "de": "Straßburg"}.
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    # The root key is the city's identity: partners pin its fingerprint. It signs only the issuer
    # metadata, so it is kept apart from the rotating signing keys.
    root_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    root_private_key_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Signed issuer metadata, cached: re-signed (with serial + 1) whenever keys or lists change or
    # the cached copy is half-way to its time-to-live. The serial only ever grows.
    metadata_serial: Mapped[int] = mapped_column(Integer, default=0)
    metadata_document: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    metadata_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Root rotation: each old root's signature over its successor (cardformat.endorse_root), hex,
    # oldest first. Published in every metadata so partners that pinned any earlier root follow
    # the chain without a new fingerprint exchange; entries are never removed.
    root_endorsements: Mapped[list[str]] = mapped_column(JSON, default=list)

    def name_in(self, language: str | None = None) -> str:
        names: dict[str, Any] = self.names or {}
        if language and language in names:
            return str(names[language])
        return str(next(iter(names.values()), self.code))


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """A key that signs cards and status lists; it rotates (active -> retired) or is revoked."""

    __tablename__ = "signing_key"
    __table_args__ = (CheckConstraint("state IN ('active', 'retired', 'revoked')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # cardformat.key_id() as 16 lower-case hex digits: what staff type in `keys revoke KID`.
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # PKCS#8 PEM encrypted with CARDSERVICE_KEY_PASSPHRASE: never at rest in clear.
    private_key_pem: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10), default="active")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusListRecord(db.Model):  # type: ignore[name-defined,misc]
    """One Token Status List (draft-ietf-oauth-status-list), 2 bits per card.

    A card's global status index i lives in list ``i // size`` at position ``i % size``, so list
    ids are 0, 1, 2, ... and assigned explicitly.
    """

    __tablename__ = "status_list"
    __table_args__ = (
        CheckConstraint("size >= 131072", name="herd_privacy_size"),
        CheckConstraint("bits = 2", name="two_bits"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[int] = mapped_column(Integer, default=2)
    # The statuses as the draft's compressed `lst` byte string (zlib): a list of mostly zeros
    # packs into a few hundred bytes.
    lst: Mapped[bytes] = mapped_column(LargeBinary)
    # How many indices of this list are allocated to cards.
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Cached signed Status List Token; cleared on every status change, re-signed when stale.
    token: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
