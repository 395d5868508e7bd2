"""Business logic as plain functions over (session, deps, ..., now=, actor=).

Each public function owns its transaction (commits on success; on a domain error nothing has
been written), takes the clock explicitly, and raises ServiceError subclasses with a stable code
and a translatable message. No Flask request object is used in here.

Modules: keys (city setup and signing keys), reencryption (re-sealing stored keys), residents
(validation, records, audited reads, data keys, retention), cards (queries, allocation,
issuance, status, lifecycle, printing), erasure (a resident and their cards), staff (accounts,
roles), tokens (API tokens), audit (the log) and audit_export, publication (signed documents),
policy, photos, crypto. docs/architecture.md shows where each sits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .audit import Actor
from .context import Deps, deps
from .errors import ServiceError


def utcnow() -> datetime:
    """The one clock of the app (tests pass their own `now` to services instead)."""
    return datetime.now(UTC)


__all__ = ["Actor", "Deps", "ServiceError", "deps", "utcnow"]
