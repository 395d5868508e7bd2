"""SQLAlchemy 2.0 typed models of the issuance service."""

from .audit import GENESIS_HASH, AuditEntry, AuditHead
from .card import CARD_STATUSES, Card
from .city import City, SigningKey, StatusListRecord
from .keycheck import KeyCheck
from .keystore import (
    KEYSTORE_BIND,
    ResidentKey,
    forget_deleted_keys,
    insert_key_row,
    read_key_rows,
    use_write_ahead_log,
)
from .mfa import RecoveryCode, StaffTotp, WebAuthnCredential
from .resident import Resident
from .session import StaffDevice, StaffIdentity, StaffSession
from .staff import ROLES, ApiToken, StaffUser
from .types import UTCDateTime

__all__ = [
    "CARD_STATUSES",
    "GENESIS_HASH",
    "KEYSTORE_BIND",
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Card",
    "City",
    "KeyCheck",
    "RecoveryCode",
    "Resident",
    "ResidentKey",
    "SigningKey",
    "StaffDevice",
    "StaffIdentity",
    "StaffSession",
    "StaffTotp",
    "StaffUser",
    "StatusListRecord",
    "UTCDateTime",
    "WebAuthnCredential",
    "forget_deleted_keys",
    "insert_key_row",
    "read_key_rows",
    "use_write_ahead_log",
]
