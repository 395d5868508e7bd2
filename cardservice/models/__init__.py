"""SQLAlchemy 2.0 typed models of the issuance service."""

from .audit import GENESIS_HASH, AuditEntry, AuditHead
from .card import CARD_STATUSES, Card
from .city import City, SigningKey, StatusListRecord
from .resident import Resident
from .staff import ROLES, ApiToken, StaffUser
from .types import UTCDateTime

__all__ = [
    "CARD_STATUSES",
    "GENESIS_HASH",
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Card",
    "City",
    "Resident",
    "SigningKey",
    "StaffUser",
    "StatusListRecord",
    "UTCDateTime",
]
