"""Single sign-on in real Chromium: the counter, the real OpenID provider of tests/oidc (node,
panva/oidc-provider) and back, on loopback; then "sign out everywhere" ends a second browser's
session, and the session cookie stays out of scripts' reach."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from cardservice.extensions import db
from scripts.stack import free_port
from tests.integration.counter.support import make_app
from tests.oidc.harness import PASSWORD, Provider, run_provider

pytestmark = pytest.mark.e2e


@contextmanager
def _serving(app: Any, port: int) -> Iterator[str]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Provider]]:
    port = free_port()
    with run_provider([f"http://127.0.0.1:{port}/sso/callback"]) as provider:
        app = make_app(tmp_path_factory.mktemp("sso-e2e"), environ=provider.env())
        with _serving(app, port) as url:
            yield url, provider
        with app.app_context():
            for bound in db.engines.values():
                bound.dispose()


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
