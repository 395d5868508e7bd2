"""Rate limiting (Flask-Limiter): the staff sign-in form per client address, and the API's
search by name and birth date per API token.

Only the login POST is limited: it is the one form an attacker can hammer without an account.
The per-account lockout (services.authentication) stays; this limit adds a ceiling per client
address, so one machine cannot try password after password across many user names.

Storage is memory by default (per worker process, development only: production refuses it) and
Redis when CARDSERVICE_RATELIMIT_STORAGE_URI names one (``redis://host:6379``), which several
workers and instances then share. A storage that fails falls back to memory rather than failing
the sign-in. Behind a reverse proxy, set CARDSERVICE_PROXY_HOPS (and, for a proxy on another
machine, CARDSERVICE_TRUSTED_PROXY_ADDRESSES) so the client address is the real one, not the
proxy's; forwarded headers from anyone else are ignored (webguard/proxy.py).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from webguard.ratelimit import withhold_breach_addresses

log = logging.getLogger("cardservice.ratelimit")

# No default limits: only the views that ask for one are limited.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_limit() -> str:
    limit: str = current_app.config["RATELIMIT_LOGIN"]
    return limit


def on_login_breach(limit: object) -> None:
    # Our own line, without the client address (an address is personal data: logs carry none).
    log.warning("sign-in rate limit exceeded on %s", request.endpoint)


def search_limit() -> str:
    limit: str = current_app.config.get("RATELIMIT_SEARCH", "30 per minute")
    return limit


def search_key() -> str:
    """Per API token: an integration that loops over names is slowed down whichever address it
    calls from. (Before authentication there is no token yet: then the client address.)"""
    actor = g.get("api_actor")
    return f"search:{actor.label}" if actor is not None else f"search:{get_remote_address()}"


def on_search_breach(limit: object) -> None:
    # Neither the token nor the query: the query is a name and a birth date.
    log.warning("search rate limit exceeded on %s", request.endpoint)


def init_app(app: Flask) -> None:
    limiter.init_app(app)
    # Flask-Limiter's own breach line names the client address: on_login_breach says it without.
    withhold_breach_addresses()
