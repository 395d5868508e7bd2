"""Fixtures of the agent page's end-to-end tests: a verifier with a pinned test issuer, served
on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from verifier import create_app

from .agent_support import PHONE, FakeIssuer, LiveServer


@pytest.fixture
def now() -> datetime:
    # The real clock: offline, the page verifies against the device's own clock.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def issuer(now: datetime) -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def publish(tmp_path: Path, issuer: FakeIssuer, now: datetime) -> Callable[[], None]:
    """Write the issuer's current keys and status list to the trust store, as a sync would;
    a running server picks the new store up at its next request."""

    def _publish() -> None:
        issuer.install(tmp_path / "instance", now=now)

    return _publish


@pytest.fixture
def make_app(tmp_path: Path, publish: Callable[[], None]) -> Callable[..., Any]:
    def _make(**overrides: Any) -> Any:
        instance = tmp_path / "instance"
        publish()
        config = {
            "INSTANCE_PATH": str(instance),
            "ENV": "testing",
            "SECRET_KEY": "e2e-test-secret",
            "RATELIMIT_ENABLED": False,
            "DEFAULT_LANGUAGE": "en",
        }
        config.update(overrides)
        return create_app(config)

    return _make


@pytest.fixture
def server(make_app: Callable[..., Any]) -> Iterator[LiveServer]:
    live = LiveServer(make_app())
    yield live
    live.stop()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport=PHONE, locale="en-GB", service_workers="allow")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page
