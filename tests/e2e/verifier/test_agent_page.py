"""The agent page in real Chromium: the three ways in, offline, right-to-left, clearing."""

from __future__ import annotations

from typing import Any

import pytest

from .agent_support import screenshot

pytestmark = pytest.mark.e2e


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.evaluate("() => window.citycardAgent.ready")
    page.wait_for_function("() => window.citycardAgent.trustLoaded()")


def scan_with_wedge(page: Any, text: str) -> None:
    """Type like a keyboard-wedge scanner: characters, then Enter; no click on a button."""
    field = page.get_by_role("textbox", name="Scanner or typed code")
    field.click()
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")


def test_wedge_scanner_shows_genuine(page, server, issuer, now) -> None:
    qr = issuer.card(now=now)
    open_page(page, server.url)
    scan_with_wedge(page, qr)
    verdict = page.locator("#verdict")
    verdict.and_(page.locator("[data-verdict=valid]")).wait_for()
    assert "Genuine" in verdict.inner_text()
    assert "Amina Haddad" in verdict.inner_text()
    screenshot(page, "en-genuine")
