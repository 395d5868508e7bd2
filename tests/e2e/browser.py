"""What every browser suite shares: one Playwright driver and Debian's Chromium.

Playwright's sync API runs one event loop per thread, so two suites that each started their own
driver in the same pytest process would collide; they all launch browsers from this one. A plugin
registered by tests/conftest.py, so the end-to-end suites (tests/e2e/) and the stack suite
(tests/stack/) share it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Chromium as root needs --no-sandbox; background networking would try hosts this machine
# cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _wait_for_chromium(timeout: float = 300) -> None:
    """Debian's chromium may still be installing when the suite starts."""
    deadline = time.monotonic() + timeout
    while not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
        time.sleep(2)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    _wait_for_chromium()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def launch(playwright_instance: Any) -> Iterator[Callable[..., Any]]:
    """Launch Chromium with extra arguments (and Playwright launch options, e.g. its `env`);
    every browser launched is closed at the end."""
    browsers: list[Any] = []

    def _launch(*extra_args: str, **options: Any) -> Any:
        browser = playwright_instance.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], **options
        )
        browsers.append(browser)
        return browser

    yield _launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="session")
def browser(launch: Callable[..., Any]) -> Any:
    return launch()
