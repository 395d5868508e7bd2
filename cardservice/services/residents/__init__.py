"""Enrolment, lookup and erasure of residents (encrypted at rest, see services.crypto).

Two databases hold a resident: the record (models.Resident) in the resident database, its
wrapped data key (models.ResidentKey) in the data-key store. They cannot share a transaction
(SQLite has no two-phase commit; PostgreSQL's is off by default), so every change that touches
both is ordered so that a failure between the two commits leaves a safe state:

- enrolment commits the key, then the record: a crash leaves an orphan key with no record,
  which opens nothing (the record was never written anywhere) and which the sweep removes;
- erasure, retention purge and emergency purge destroy the keys first, in one key-store
  transaction, then delete the records in one resident-database transaction: a crash leaves
  keyless rows that nothing can decrypt, shown as not found, which a retry or the sweep removes;
- a correction re-encrypts under the same data key (only the record changes), and a master-key
  rotation re-wraps keys in the key store only (only the key changes).

`sweep_orphans()` (run by `cardservice purge` and `cardservice keys sweep`) removes the leftovers
of interrupted writes on both sides. Never two write transactions at once either: the session
commits the key store before it writes the resident database, so the order is never left to it.

Modules: validation (what a record may contain), records (enrol, load, correct, erase),
audited_reads (reads for a person to see, audited first), datakeys (the key store),
retention (purges and the sweep).
"""

from __future__ import annotations

from .audited_reads import search_residents, view_resident
from .datakeys import WrappedKey, data_keys, destroy_data_keys, open_record, rewrap_data_keys
from .records import (
    EnrolmentResult,
    ResidentView,
    enrol_resident,
    find_residents,
    get_resident,
    update_resident,
)
from .retention import (
    ORPHAN_KEY_GRACE,
    RetentionCandidate,
    SweepResult,
    purge_all_residents,
    purge_expired,
    retention_candidates,
    sweep_orphans,
)
from .validation import GENDER_MARKERS, EnrolmentInput, validate_enrolment

__all__ = [
    "GENDER_MARKERS",
    "ORPHAN_KEY_GRACE",
    "EnrolmentInput",
    "EnrolmentResult",
    "ResidentView",
    "RetentionCandidate",
    "SweepResult",
    "WrappedKey",
    "data_keys",
    "destroy_data_keys",
    "enrol_resident",
    "find_residents",
    "get_resident",
    "open_record",
    "purge_all_residents",
    "purge_expired",
    "retention_candidates",
    "rewrap_data_keys",
    "search_residents",
    "sweep_orphans",
    "update_resident",
    "validate_enrolment",
    "view_resident",
]
