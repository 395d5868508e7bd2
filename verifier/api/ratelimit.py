"""Rate limiting per client address for the API (Flask-Limiter).

Storage is memory by default (per worker process) and Redis when VERIFIER_RATELIMIT_STORAGE_URI
names one, which several workers and instances then share.
"""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# No default limits: only the API is limited, so the agent page's own assets never count
# against an agent's verifications.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def api_limit() -> str:
    limit: str = current_app.config["RATELIMIT_API"]
    return limit
