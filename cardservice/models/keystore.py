"""The data-key store: each resident's wrapped data key, in a database of its own.

Kept apart from the resident database (Flask-SQLAlchemy bind ``keystore``, configured with
CARDSERVICE_KEYSTORE_DATABASE_URI) so that a backup of the resident database holds only
ciphertext whose keys live elsewhere: erasing a resident deletes their row here, and every copy
of their record, backups included, becomes unreadable the moment that deletion commits. The keys
stay wrapped by the master key (services.crypto.MasterKeyProvider), so this database alone
reveals nothing either: reading a record takes the resident database, the key store and the
master key.

No foreign key can cross two databases: `resident_id` is matched by value, and
services.residents.sweep_orphans() removes rows left on one side by an interrupted write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime

KEYSTORE_BIND = "keystore"


class ResidentKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "resident_key"
    __bind_key__ = KEYSTORE_BIND

    # The resident's random id (resident.id in the other database).
    resident_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Which master key wrapped the data key (lets a master-key rotation re-wrap in place).
    master_key_id: Mapped[str] = mapped_column(String(32), index=True)
    # nonce || AES-GCM of the 32-byte data key under the master key, the resident id bound as
    # associated data: a wrapped key copied onto another resident does not unwrap.
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    # When the key was written: the orphan sweep leaves young keys alone, since enrolment writes
    # the key a moment before the record.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
