"""What both apps' rate limits (Flask-Limiter) share: no client address in the breach log line,
and in production a storage that every worker and instance shares.

Each app keeps its own Limiter, limits and settings; it calls ``withhold_breach_addresses`` after
``limiter.init_app(app)``, and ``require_shared_storage`` when it starts in production with its
limit on, turning the ValueError into its own ConfigError.
"""

from __future__ import annotations

import logging

# Flask-Limiter's logger, and the start of its line for a request over its limit.
FLASK_LIMITER_LOGGER = "flask-limiter"
_BREACH_LINE = "ratelimit %s (%s) exceeded"


class NoClientAddress(logging.Filter):
    """Drops Flask-Limiter's breach line: it names the client address (personal data, and for
    the verifier a record of where cards were checked). The 429 itself is the signal, and an app
    may log its own line without the address."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_BREACH_LINE)


def withhold_breach_addresses() -> None:
    """Installs ``NoClientAddress`` on Flask-Limiter's logger, once per process."""
    flask_limiter_log = logging.getLogger(FLASK_LIMITER_LOGGER)
    if not any(isinstance(f, NoClientAddress) for f in flask_limiter_log.filters):
        flask_limiter_log.addFilter(NoClientAddress())


def require_shared_storage(storage: str, *, setting: str, limit: str, docs: str) -> None:
    """Raises ValueError when ``storage`` (a limits storage URI) keeps counts per process.

    memory:// counts in each worker process: the limit would be multiplied by the number of
    processes of every instance, and a restart would forget every count. ``setting`` names the
    variable in the message, ``limit`` what is limited, ``docs`` where the operator reads more.
    """
    storage = storage.strip()
    if storage.startswith("memory://"):
        raise ValueError(
            f"{setting} is {storage!r}: in production {limit} must be counted in a storage every "
            f"worker and instance shares, e.g. redis://127.0.0.1:6379/0 ({docs})."
        )
