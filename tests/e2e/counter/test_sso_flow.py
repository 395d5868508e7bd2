"""Single sign-on in real Chromium: the counter, the real OpenID provider of tests/oidc (node,
panva/oidc-provider) and back, on loopback; then "sign out everywhere" ends a second browser's
session, and the session cookie stays out of scripts' reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import free_port
from tests.integration.issuance_app import SessionApp, dispose
from tests.oidc.harness import PASSWORD, Provider, run_provider

from .conftest import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sso_server(
    tmp_path_factory: pytest.TempPathFactory, counter_template: SessionApp
) -> Iterator[tuple[str, Provider]]:
    port = free_port()
    with run_provider([f"http://127.0.0.1:{port}/sso/callback"]) as provider:
        folder = tmp_path_factory.mktemp("sso-e2e") / "instance"
        app = counter_template.fresh_copy(folder, environ=provider.env())
        with LiveServer(app, port) as server:
            yield server.url, provider
        dispose(app)


def _sso_sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#sso-login").click()
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()
    page.wait_for_url(f"{base}/")


def test_single_sign_on_then_sign_out_everywhere(
    browser: Any, sso_server: tuple[str, Provider], screenshot_dir: Path
) -> None:
    base, _provider = sso_server
    errors: list[str] = []
    first = browser.new_context(locale="en-GB")
    second = browser.new_context(locale="en-GB")
    page = first.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    _sso_sign_in(page, base, "amira")
    assert "Signed in with the city's account" in page.content()
    # The provider said "admin" through the roles claim: the staff pages are open.
    page.goto(f"{base}/admin/sessions")
    assert page.locator("h1").inner_text() == "Active sessions"
    assert "amira.admin" in page.content()
    cookie = next(c for c in first.cookies() if c["name"] == "cardservice_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # no script can read the session id
    page.screenshot(path=str(screenshot_dir / "sso-admin-sessions.png"))

    other = second.new_page()
    _sso_sign_in(other, base, "amira")
    page.goto(f"{base}/account/sessions")
    assert page.locator("tbody tr").count() == 2
    page.get_by_role("button", name="Sign out everywhere").click()
    page.wait_for_url(f"{base}/login")
    assert "You are signed out on every device" in page.content()
    other.goto(f"{base}/")
    assert other.url.startswith(f"{base}/login")
    assert errors == []
    first.close()
    second.close()


def test_a_provider_account_without_a_role_stays_out(
    browser: Any, sso_server: tuple[str, Provider]
) -> None:
    base, _provider = sso_server
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("#sso-login").click()
    page.get_by_label("User name").fill("chloe")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()
    page.wait_for_url(f"{base}/sso/callback*")
    assert "no role in this service" in page.content()
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login")
    context.close()
