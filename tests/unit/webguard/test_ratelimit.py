"""Rate-limit rules both apps share (webguard.ratelimit)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from webguard.ratelimit import (
    FLASK_LIMITER_LOGGER,
    NoClientAddress,
    require_shared_storage,
    withhold_breach_addresses,
)


@pytest.mark.parametrize("storage", ["memory://", " memory:// ", "memory://?anything"])
def test_process_local_storage_is_refused(storage: str) -> None:
    with pytest.raises(ValueError) as raised:
        require_shared_storage(
            storage, setting="APP_RATELIMIT_STORAGE_URI", limit="the API limit", docs="docs/x.md"
        )
    message = str(raised.value)
    assert message.startswith("APP_RATELIMIT_STORAGE_URI is 'memory://")
    assert "the API limit must be counted" in message and "(docs/x.md)" in message


@pytest.mark.parametrize(
    "storage", ["redis://127.0.0.1:6379/0", "rediss://cache.internal:6380", "memcached://m:11211"]
)
def test_shared_storage_is_accepted(storage: str) -> None:
    require_shared_storage(storage, setting="S", limit="the limit", docs="d")


@pytest.fixture
def flask_limiter_log() -> Iterator[tuple[logging.Logger, list[str]]]:
    logger = logging.getLogger(FLASK_LIMITER_LOGGER)
    filters, level = list(logger.filters), logger.level
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for f in filters:
        logger.removeFilter(f)
    yield logger, lines
    logger.removeHandler(handler)
    logger.setLevel(level)
    for f in list(logger.filters):
        logger.removeFilter(f)
    for f in filters:
        logger.addFilter(f)


def test_breach_line_is_dropped_once_installed(
    flask_limiter_log: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = flask_limiter_log
    # Flask-Limiter's own call (flask_limiter/_extension.py): the key is the client address.
    breach = ("ratelimit %s (%s) exceeded at endpoint: %s", "10 per 1 minute", "203.0.113.5", "x")
    logger.info(*breach)
    assert any("203.0.113.5" in line for line in lines)  # the line the filter exists for

    lines.clear()
    withhold_breach_addresses()
    withhold_breach_addresses()  # each app installs it; one filter is enough
    assert sum(isinstance(f, NoClientAddress) for f in logger.filters) == 1
    logger.info(*breach)
    logger.warning("Storage unavailable, falling back to memory")
    assert lines == ["Storage unavailable, falling back to memory"]
