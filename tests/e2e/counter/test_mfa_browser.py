"""Second factors in real Chromium: a first sign-in that changes the administrator's password
and sets up an authenticator app; a passkey registered and used through Chromium's own WebAuthn
stack, with the DevTools virtual authenticator standing in for the security key.

WebAuthn needs a domain for its relying party id (an IP address is refused by the browser), so
these pages are opened at http://localhost:PORT, a secure context like HTTPS."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.integration.counter.support import PASSWORD, new_user

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "tulip harbour violin 1987"


def _password_then_new_password(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/login/password")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#confirm").fill(NEW_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/login/enrol")


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_first_sign_in_with_an_authenticator_app(
    browser: Any, live_server: Any, screenshot_dir: Path
) -> None:
    new_user(live_server.app, "tariq", "supervisor")
    base = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors = _watch(page)
    _password_then_new_password(page, base, "tariq")
    # The QR code is an image the browser decodes and draws (an inline SVG data: URI).
    assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 0
    secret = page.locator("#totp-secret").inner_text().strip()
    page.screenshot(path=str(screenshot_dir / "mfa-enrol.png"), full_page=True)
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm the app").click()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", c) for c in codes)
    page.get_by_role("button", name="I have kept them: continue").click()
    page.wait_for_url(f"{base}/")
    context.close()

    # Later sign-ins ask for a code; a code already used is refused.
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("#username").fill("tariq")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/login/verify")
    step = int(time.time()) // 30 + 1  # the one the set-up used may be the current one
    page.locator("#code").fill(pyotp.TOTP(secret).generate_otp(step))
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    context.close()
    assert errors == []


def test_passkey_registered_and_used_with_a_virtual_authenticator(
    browser: Any, live_server: Any, screenshot_dir: Path
) -> None:
    new_user(live_server.app, "kim", "admin")
    base = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    page = context.new_page()
    errors = _watch(page)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    _password_then_new_password(page, base, "kim")
    page.locator("#name").fill("clé bleue")
    page.get_by_role("button", name="Enregistrer une clé de sécurité").click()
    page.wait_for_selector("#recovery-codes")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["rpId"] == "localhost"
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/")

    # Sign out, and in again with the key alone as the second factor.
    page.locator("form[action='/logout'] button").click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.locator("#username").fill("kim")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/login/verify")
    page.screenshot(path=str(screenshot_dir / "mfa-verify-passkey.png"), full_page=True)
    page.get_by_role("button", name="Utiliser ma clé de sécurité").click()
    page.wait_for_url(f"{base}/")
    after = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert after["credentials"][0]["signCount"] >= 2

    # Signed in with the key a moment ago: key administration opens without a step-up.
    page.goto(f"{base}/admin/keys")
    assert page.url == f"{base}/admin/keys"

    # The account page lists the key by the name its owner gave it.
    page.goto(f"{base}/account/security")
    assert "clé bleue" in page.locator(".passkey").inner_text()
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
    context.close()
    assert errors == []
