"""The city's day in real Chromium, through nginx over HTTPS, on the production stack.

A clerk signs in, enrols a resident with a photo, issues the card and prints it (the PDF, whose
QR code is read back); the verifier's agent page says genuine. A supervisor revokes the card;
the verifier, which checks against the status lists it holds, still says genuine until its next
sync, and not valid after it.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyotp
import pypdfium2
import pytest
import zxingcpp

from scripts.stack import Stack

from ..integration.counter.support import png_bytes

pytestmark = pytest.mark.stack

# Distinctive, so that the log scan cannot miss it (or mistake something else for it).
NAME = "Zephyrine Quillfeather-Okonkwo"
BIRTH_DATE = "1987-03-14"
# The verifier's workers look at the trust store file at most this often
# (VERIFIER_TRUST_RELOAD_INTERVAL, default 1 s; the stack keeps the default).
TRUST_RELOAD_SECONDS = 1.0


def _sign_in(page: Any, stack: Stack, role: str, secrets: set[str]) -> None:
    """A first sign-in: the password the CLI set is replaced, and a role that needs a second
    factor sets up an authenticator app (the new password and its key join the log scan)."""
    page.goto(f"{stack.url}/login")
    page.get_by_label("Username").fill(role)
    page.locator("#password").fill(stack.passwords[role])
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{stack.url}/login/password")
    new_password = stack.passwords[role] + " renewed"
    secrets.add(new_password)
    page.locator("#password").fill(new_password)
    page.locator("#confirm").fill(new_password)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    # The stack's other tests sign in later with the password the account has now.
    stack.passwords[role] = new_password
    if page.url == f"{stack.url}/login/enrol":
        secret = page.locator("#totp-secret").inner_text().strip()
        secrets.add(secret)
        page.locator("#code").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Confirm the app").click()
        secrets.update(page.locator("#recovery-codes code").all_inner_texts())
        page.get_by_role("button", name="I have kept them: continue").click()
    page.wait_for_url(f"{stack.url}/")


def _qr_of(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        back = document[1]
        image = back.render(scale=300 / 72).to_pil()
        back.close()
    finally:
        document.close()
    codes = [
        code.text
        for code in zxingcpp.read_barcodes(image)
        if code.format == zxingcpp.BarcodeFormat.QRCode
    ]
    assert len(codes) == 1, codes
    return codes[0]


def _sync(stack: Stack) -> None:
    """`verifier sync`, then past the workers' reload interval: a worker that looked at the
    trust store just before the sync wrote it serves its copy for up to that long, so a page
    opened at once could, now and then, still see the lists from before the sync."""
    stack.verifier_cli("sync")
    time.sleep(TRUST_RELOAD_SECONDS + 0.2)


def _verdict(browser: Any, stack: Stack, qr: str) -> tuple[str, str, str]:
    """Open the agent page afresh, scan like a keyboard-wedge scanner, read the verdict."""
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{stack.verifier_url}/")
    page.evaluate("() => window.citycardAgent.ready")
    field = page.get_by_role("textbox", name="Scanner or typed code")
    field.click()
    page.keyboard.insert_text(qr)
    page.keyboard.press("Enter")
    verdict = page.locator("#verdict:not([data-verdict=idle]):not([data-verdict=checking])")
    verdict.wait_for()
    result = (
        verdict.get_attribute("data-verdict"),
        verdict.get_attribute("data-result"),
        verdict.inner_text(),
    )
    context.close()
    return result


def test_issue_print_verify_revoke_and_the_verifier_follows(
    stack: Stack, stack_browser: Any, stack_run: dict[str, set[str]], tmp_path: Path
) -> None:
    errors: list[str] = []
    clerk = stack_browser.new_context(locale="en-GB", accept_downloads=True)
    page = clerk.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    stack_run["names"].update({NAME, "Zephyrine", "Quillfeather", "Okonkwo"})
    stack_run["secrets"].update(stack.passwords.values())

    # Signing in is a form POST over HTTPS: it used to end on "The form expired".
    _sign_in(page, stack, "clerk", stack_run["secrets"])
    page.get_by_role("link", name="Enrol", exact=True).click()
    page.get_by_label("Display name").fill(NAME)
    page.get_by_label("Birth date").fill(BIRTH_DATE)
    page.get_by_label("X (another gender, or not specified)").check()
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))
    page.locator("#doc-passport").check()
    page.locator("#doc-shelter_letter").check()
    page.get_by_role("button", name="Enrol only").click()
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}\?enrolled=1$"))
    resident_url = page.url.split("?")[0]
    resident_id = resident_url.rsplit("/", 1)[1]
    stack_run["resident_ids"].add(resident_id)

    page.get_by_role("button", name="Issue a new card").click()
    found = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{3}", page.locator(".notice--success").inner_text())
    assert found
    number = found.group()
    stack_run["numbers"].update({number, number.replace("-", ""), number.lower()})

    # The page prints the card from a frame (counter.js); the same PDF, fetched as the frame does.
    href = page.get_by_role("link", name="Print the card").get_attribute("href")
    assert href and "inline=1" in href
    # Fetched outside the browser with the stack's CA, as the page's own cookie (Playwright's
    # request API does not use the CA that Chromium trusts through NSS).
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in clerk.cookies(stack.url))
    request = urllib.request.Request(stack.url + href, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, context=stack.ssl_context()) as response:
        pdf = response.read()
    assert pdf.startswith(b"%PDF")
    qr = _qr_of(pdf)
    assert qr.startswith("MC1:")
    stack_run["secrets"].add(qr)
    clerk.close()

    # The verifier syncs the city's lists from nginx over HTTPS, trusting the stack's CA only.
    _sync(stack)
    verdict, result, text = _verdict(stack_browser, stack, qr)
    assert (verdict, result) == ("valid", "valid"), text
    assert "Genuine" in text and NAME in text

    supervisor = stack_browser.new_context(locale="en-GB")
    page = supervisor.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, stack, "supervisor", stack_run["secrets"])
    page.goto(resident_url)
    page.on("dialog", lambda dialog: dialog.accept())
    revoke = page.locator("form[action$='/revoke']")
    page.locator("details:has(form[action$='/revoke']) > summary").click()
    revoke.locator("select").select_option("lost")
    revoke.get_by_role("button", name="Revoke").click()
    assert "revoked for good" in page.locator(".notice--success").inner_text()
    supervisor.close()

    # Offline verification by design: until the next sync, the lists the verifier holds say
    # the card is good.
    assert _verdict(stack_browser, stack, qr)[0] == "valid"
    _sync(stack)
    verdict, result, text = _verdict(stack_browser, stack, qr)
    assert (verdict, result) == ("invalid", "revoked"), text
    assert "NOT VALID" in text.upper()
    assert errors == []
