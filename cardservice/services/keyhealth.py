"""The active signing key's remaining life, for `GET /healthz` (and so for monitoring).

`cardservice keys list` warns when the active key ends within EXPIRY_WARNING (30 days); the same
rule here lets monitoring alert before anyone runs the command. A key near its end is not a
reason to take the instance out of service (the first signature within a day of the end rotates
it), so this only reports.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal, TypedDict

from ._types import DbSession
from .keys import EXPIRY_WARNING, list_keys


class SigningKeyHealth(TypedDict):
    # ok; expiring: within EXPIRY_WARNING of its end (what `keys list` warns on); expired: past
    # it and not rotated yet; none: no active key (the city is not set up).
    state: Literal["ok", "expiring", "expired", "none"]
    not_after: str | None  # RFC 3339, UTC
    days_left: int | None  # whole days until not_after, rounded down; negative once past
    warning_days: int


def signing_key_health(session: DbSession, *, now: datetime) -> SigningKeyHealth:
    warning_days = EXPIRY_WARNING.days
    active = [key for key in list_keys(session) if key.state == "active"]
    if not active:
        return {"state": "none", "not_after": None, "days_left": None, "warning_days": warning_days}
    # list_keys orders by not_before: the newest active key is the one that signs.
    not_after = active[-1].not_after
    if not_after is None:
        return {"state": "ok", "not_after": None, "days_left": None, "warning_days": warning_days}
    left = not_after - now
    state: Literal["ok", "expiring", "expired"] = (
        "expired" if left.total_seconds() <= 0 else "expiring" if left <= EXPIRY_WARNING else "ok"
    )
    return {
        "state": state,
        "not_after": not_after.isoformat().replace("+00:00", "Z"),
        "days_left": math.floor(left.total_seconds() / 86_400),
        "warning_days": warning_days,
    }
