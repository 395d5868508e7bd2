"""gunicorn's error lines without client addresses or request lines (webguard.gunicorn_logging).

gunicorn's own calls (gunicorn/workers/base.py, handle_error) are reproduced here; the apps'
tests run real gunicorn servers and read their logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from gunicorn.config import Config  # type: ignore[import-untyped]  # gunicorn ships no types

from webguard.gunicorn_logging import GunicornLogger, WithholdClientDetails


@pytest.fixture
def error_lines() -> Iterator[tuple[GunicornLogger, list[str]]]:
    cfg = Config()
    cfg.set("errorlog", "-")
    logger = GunicornLogger(cfg)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logger.error_log.addHandler(handler)
    yield logger, lines
    logger.error_log.removeHandler(handler)


@pytest.mark.parametrize("address", ["203.0.113.5", "2001:db8::7"])
def test_invalid_request_is_logged_by_its_kind(
    error_lines: tuple[GunicornLogger, list[str]], address: str
) -> None:
    logger, lines = error_lines
    error = "Invalid HTTP request line: 'GET /api/v1/cards/FR-SXB-0001 HTTP/1.1'"
    logger.warning(f"Invalid request from ip={address}: {error}")
    assert lines == ["Invalid request: Invalid HTTP request line"]


@pytest.mark.parametrize(
    "args",
    [("Error handling request %s %s", "GET", "/residents/42"), ("Error handling request %s", "/x")],
)
def test_error_handling_a_request_withholds_the_request_line(
    error_lines: tuple[GunicornLogger, list[str]], args: tuple[str, ...]
) -> None:
    logger, lines = error_lines
    logger.error(*args)
    assert lines == ["Error handling request (request line withheld)"]


def test_other_lines_pass_unchanged(error_lines: tuple[GunicornLogger, list[str]]) -> None:
    logger, lines = error_lines
    logger.info("Booting worker with pid: %s", 1234)
    assert lines == ["Booting worker with pid: 1234"]


def test_setup_again_adds_no_second_filter(error_lines: tuple[GunicornLogger, list[str]]) -> None:
    # gunicorn calls setup() again on every reload (SIGHUP).
    logger, _ = error_lines
    logger.setup(logger.cfg)
    assert sum(isinstance(f, WithholdClientDetails) for f in logger.error_log.filters) == 1
