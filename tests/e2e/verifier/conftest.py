"""Fixtures of the agent page's end-to-end tests: a verifier with a pinned test issuer, served
on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from verifier import create_app

from .agent_support import PHONE, FakeIssuer, LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _wait_for_chromium(timeout: float = 300) -> None:
    """Debian's chromium may still be installing when the suite starts."""
    deadline = time.monotonic() + timeout
    while not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} is not installed")
        time.sleep(2)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    _wait_for_chromium()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def launch(playwright_instance: Any) -> Iterator[Callable[..., Any]]:
    """Launch Chromium with extra arguments; every browser launched is closed at the end."""
    browsers: list[Any] = []

    def _launch(*extra_args: str) -> Any:
        browser = playwright_instance.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args]
        )
        browsers.append(browser)
        return browser

    yield _launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="session")
def browser(launch: Callable[..., Any]) -> Any:
    return launch()


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
