"""The verifier: the app a city's agents use to check cards, from any partner city, offline.

It needs no cardservice code and no resident database: a partner city runs it alone, with its
trust store (pinned partners, their verified metadata and status lists) in the instance folder.
"""

from __future__ import annotations

import importlib.util
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from webguard.proxy import TrustedProxyFix, parse_networks

from . import i18n
from .api import problems, ratelimit
from .api.snapshot import SnapshotCache
from .commands import register_commands
from .config import ensure_secret_key, ensure_shared_ratelimit_storage, load_config
from .trust import TrustStore
from .trust_index import TrustCache
from .verification import ResultCounters


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class VerifierState:
    """Per-app objects the views share (held in ``app.extensions["verifier"]``)."""

    store: TrustStore
    trust: TrustCache
    snapshots: SnapshotCache
    counters: ResultCounters


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the verifier app from the environment (VERIFIER_*), then ``test_config`` on top."""
    config = load_config(overrides=test_config)
    instance = Path(config["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    ensure_secret_key(config)
    ensure_shared_ratelimit_storage(config)

    app = _VerifierFlask(__name__, instance_path=str(instance), instance_relative_config=True)
    app.config.update(config)
    app.config.setdefault("CLOCK", _utcnow)
    app.config["TESTING"] = app.config.get("TESTING", False) or config["ENV"] == "testing"

    if config["TRUSTED_PROXIES"]:
        # Only with proxies really in front: otherwise any client could choose its own address
        # for rate limiting by sending X-Forwarded-For.
        # And only from the addresses they connect from (webguard/proxy.py).
        networks = parse_networks(config["TRUSTED_PROXY_ADDRESSES"])
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, config["TRUSTED_PROXIES"], networks)  # type: ignore[method-assign]

    store = TrustStore(instance)
    app.extensions["verifier"] = VerifierState(
        store=store,
        trust=TrustCache(store, check_interval=float(config["TRUST_RELOAD_INTERVAL"])),
        snapshots=SnapshotCache(),
        counters=ResultCounters(),
    )

    i18n.init_app(app)
    ratelimit.init_app(app)
    problems.init_app(app)

    from .api import bp as api_bp

    app.register_blueprint(api_bp)
    # The agent scanning page (/) is a separate package; register it when it is installed.
    if importlib.util.find_spec(f"{__name__}.agent") is not None:
        from .agent import bp as agent_bp

        app.register_blueprint(agent_bp)

    app.add_url_rule("/healthz", "healthz", _healthz)
    app.after_request(_common_headers)
    if config["CORS_ORIGINS"]:
        app.after_request(_cors(frozenset(config["CORS_ORIGINS"])))

    register_commands(app)
    return app


class _VerifierFlask(Flask):
    def log_exception(self, exc_info: Any) -> None:
        """Log an unexpected error by type and stack only.

        Flask's default also logs the exception's message, and a message can quote the data
        being handled (a card's text, a name). The stack says where; the type says what.
        """
        exc_type, _exc, tb = exc_info
        stack = "".join(traceback.format_tb(tb)) if tb is not None else ""
        name = exc_type.__name__ if exc_type is not None else "exception"
        self.logger.error(
            "Exception on %s [%s]: %s (message withheld)\n%s",
            request.path,
            request.method,
            name,
            stack,
        )


def _healthz() -> Response:
    """Liveness and readiness: the trust store loads.

    Besides the partner count, the verdicts this worker process has given, as counts per
    result code: the only trace verifications leave (docs/privacy.md, rule 3).
    """
    state = current_app.extensions["verifier"]
    index = state.trust.current()
    response = jsonify(
        {
            "status": "ok",
            "partners": len(index.partners),
            "verifications_by_this_process": state.counters.snapshot(),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _common_headers(response: Response) -> Response:
    # A verification page must not tell other sites where an agent came from.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if current_app.config["ENV"] == "production":
        # Production is served over HTTPS only (docs/verifier.md): browsers must never fall back
        # to plain HTTP. The same policy as the issuance app's (cardservice/security.py).
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
        )
    return response


def _cors(origins: frozenset[str]) -> Callable[[Response], Response]:
    """Cross-origin access to the API for the configured origins only (none by default)."""

    def add_headers(response: Response) -> Response:
        if not request.path.startswith("/api/"):
            return response
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin not in origins:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept-Language"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    return add_headers


__all__ = ["VerifierState", "create_app"]
