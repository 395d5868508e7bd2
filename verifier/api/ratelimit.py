"""Rate limiting per client address for the API (Flask-Limiter).

Storage is memory by default (per worker process, development only: production refuses it) and
Redis when VERIFIER_RATELIMIT_STORAGE_URI names one, which several workers and instances then
share. The client address comes from X-Forwarded-For only on connections from
VERIFIER_TRUSTED_PROXY_ADDRESSES (webguard/proxy.py).
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from webguard.ratelimit import withhold_breach_addresses

# No default limits: only the API is limited, so the agent page's own assets never count
# against an agent's verifications.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_app(app: Flask) -> None:
    limiter.init_app(app)
    # Flask-Limiter's breach line names the client address, which would say from where cards
    # were checked (docs/privacy.md, rule 3). The 429 itself is the signal.
    withhold_breach_addresses()


def api_limit() -> str:
    limit: str = current_app.config["RATELIMIT_API"]
    return limit
