"""Check values of the secrets every instance must share (services.keycheck).

One row per secret (column `secret`), in the resident database: `passphrase`
(CARDSERVICE_KEY_PASSPHRASE), `master_key` (CARDSERVICE_MASTER_KEY or the PKCS#11 key) and
`index_key` (CARDSERVICE_INDEX_KEY).
A value proves a configured secret is the right one and reveals nothing usable about it: an
AES-GCM encryption of a known constant (under the passphrase's argon2id key, under the master
key) or an HMAC of a constant (index key). The primary key makes the first write win when a
fleet starts at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class KeyCheck(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "key_check"

    secret: Mapped[str] = mapped_column(String(16), primary_key=True)
    # For the master key: the id of the key the value was made with (a rotation moves it).
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
