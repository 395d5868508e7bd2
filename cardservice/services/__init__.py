"""Business logic as plain functions over (session, deps, ..., now=, actor=).

Each public function owns its transaction (commits on success; on a domain error nothing has
been written), takes the clock explicitly, and raises ServiceError subclasses with a stable code
and a translatable message. No Flask request object is used in here.

Modules: keys (city setup and signing keys), residents (enrol, look up, erase), cards (issue,
print, lifecycle), staff (accounts, API tokens), audit (log), publication (signed documents),
policy, photos, crypto.
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
