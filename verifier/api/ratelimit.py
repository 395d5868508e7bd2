"""Rate limiting per client address for the API (Flask-Limiter).

Storage is memory by default (per worker process, development only: production refuses it) and
Redis when VERIFIER_RATELIMIT_STORAGE_URI names one, which several workers and instances then
share. The client address comes from X-Forwarded-For only on connections from
VERIFIER_TRUSTED_PROXY_ADDRESSES (verifier/proxy.py).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# No default limits: only the API is limited, so the agent page's own assets never count
# against an agent's verifications.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class _NoClientAddress(logging.Filter):
    """Drops Flask-Limiter's breach line: it names the client address, which would say from
    where cards were checked (DESIGN.md section 5, rule 3). The 429 itself is the signal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("ratelimit %s (%s) exceeded")


def init_app(app: Flask) -> None:
    limiter.init_app(app)
    flask_limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _NoClientAddress) for f in flask_limiter_log.filters):
        flask_limiter_log.addFilter(_NoClientAddress())


def api_limit() -> str:
    limit: str = current_app.config["RATELIMIT_API"]
    return limit
