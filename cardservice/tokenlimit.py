"""A rate limit per API token (CARDSERVICE_RATELIMIT_TOKEN, default 5 a second and 120 a minute).

Counted in the sign-in limiter's storage (ratelimit.py): Redis in production, shared by every
worker and instance. Keyed by the token's id, not the client address, so a program cannot go
faster by spreading its requests over many machines, and one busy program does not slow another
behind the same proxy. A storage that fails lets the request through and says so in the log,
like the sign-in limit (the token is still authenticated, scoped and audited).
"""

from __future__ import annotations

import logging
import math
import time

from flask import current_app
from limits import parse_many

from .ratelimit import limiter

log = logging.getLogger("cardservice.ratelimit")


def retry_after(token_id: int) -> int | None:
    """Count one request of the token; None when allowed, else the seconds to wait."""
    if not current_app.config.get("RATELIMIT_ENABLED", True) or not limiter.enabled:
        return None
    items = parse_many(current_app.config["RATELIMIT_TOKEN"])
    try:
        strategy = limiter.limiter
        for item in items:
            if not strategy.hit(item, "api-token", str(token_id)):
                reset, _remaining = strategy.get_window_stats(item, "api-token", str(token_id))
                return max(1, math.ceil(reset - time.time()))
    except Exception as exc:  # any storage failure: let the request through, say why
        log.warning("token rate limit not counted: %s", type(exc).__name__)
    return None
