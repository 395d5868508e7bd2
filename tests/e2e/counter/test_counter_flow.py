"""The counter in real Chromium: sign in, enrol with a photo, issue, download the card PDF;
the Arabic pages lay out right to left."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.counter.support import PASSWORD, png_bytes, totp_code

pytestmark = pytest.mark.e2e


def _wait_until(page: Any, expression: str, timeout: float = 10) -> None:
    # page.wait_for_function evaluates through eval(), which the app's CSP rightly forbids.
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def _sign_in(page: Any, base: str, username: str = "clerk", app: Any = None) -> None:
    page.goto(f"{base}/login")
    page.get_by_label(re.compile("Username|Identifiant|اسم المستخدم")).fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state()
    if page.url == f"{base}/login/verify":  # the role needs its authenticator app
        page.locator("#code").fill(totp_code(app, username))
        page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def test_enrol_issue_and_download_the_card(
    browser: Any, live_server: Any, tmp_path: Path, screenshot_dir: Path
) -> None:
    context = browser.new_context(locale="en-GB", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    base = live_server.url

    _sign_in(page, base)
    page.get_by_role("link", name="Enrol", exact=True).click()
    assert page.locator("html").get_attribute("dir") == "ltr"

    page.get_by_label("Display name").fill("Amina Haddad")
    page.get_by_label("Birth date").fill("1990-04-27")
    page.get_by_label("X (another gender, or not specified)").check()
    page.get_by_label("Preferred language").select_option("fr")
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    page.get_by_label("Photo", exact=True).set_input_files(str(photo))

    # The live points meter follows the ticks (the server recomputes on submit).
    meter = page.locator("[data-points-meter]")
    assert meter.get_attribute("data-met") == "false"
    page.locator("#doc-passport").check()
    page.locator("#doc-shelter_letter").check()
    assert page.locator('[data-kind-total="identity"]').inner_text() == "3"
    assert page.locator('[data-kind-total="residence"]').inner_text() == "1"
    assert meter.get_attribute("data-met") == "true"
    page.screenshot(path=str(screenshot_dir / "enrol-en.png"), full_page=True)

    page.get_by_role("button", name="Enrol only").click()
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}"))
    assert "Give all the documents back" in page.locator(".notice--handback").inner_text()

    page.get_by_role("button", name="Issue a new card").click()
    notice = page.locator(".notice--success").inner_text()
    number = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{3}", notice)
    assert number, notice

    # The PDF itself, as a download for a card printer's own software.
    response = page.request.get(f"{base}/cards/{number.group()}/card.pdf")
    assert response.body().startswith(b"%PDF")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="card-{number.group()}-card.pdf"'
    )

    # The photo shown on the resident page is the re-encoded one, served inline.
    img = page.get_by_role("img", name="Photo of the resident")
    assert img.get_attribute("src").startswith("data:image/jpeg;base64,")
    page.screenshot(path=str(screenshot_dir / "resident-en.png"), full_page=True)
    assert errors == []
    context.close()


def test_arabic_pages_are_right_to_left(
    browser: Any, live_server: Any, screenshot_dir: Path
) -> None:
    context = browser.new_context(locale="ar", extra_http_headers={"Accept-Language": "ar"})
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/login")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl"
    assert html.get_attribute("lang") == "ar"
    _sign_in(page, base)
    page.goto(f"{base}/residents/new")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("h1").inner_text() == "تسجيل ساكن"
    # The layout really flips: the main navigation starts at the right edge.
    direction = page.evaluate("getComputedStyle(document.body).direction")
    assert direction == "rtl"
    brand = page.locator(".brand").bounding_box()
    user_menu = page.locator(".user-menu").bounding_box()
    assert brand["x"] > user_menu["x"]
    page.screenshot(path=str(screenshot_dir / "enrol-ar.png"), full_page=True)
    context.close()


def test_keyboard_reaches_the_skip_link_and_the_error_summary(
    browser: Any, live_server: Any
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    base = live_server.url
    _sign_in(page, base)
    page.goto(f"{base}/residents/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    # Enough documents (the buttons wait for them), nothing else: refused, with the summary.
    page.locator("#doc-passport").check()
    page.locator("#doc-utility_bill").check()
    page.get_by_role("button", name="Enrol only").click()
    # After a refused submission focus lands on the error summary, whose links lead to fields.
    page.wait_for_selector(".error-summary")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    page.locator(".error-summary a[href='#display_name']").click()
    assert page.evaluate("document.activeElement.id") == "display_name"
    context.close()


def test_photo_taken_with_the_webcam(camera_browser: Any, live_server: Any) -> None:
    context = camera_browser.new_context(locale="en-GB")
    context.grant_permissions(["camera"], origin=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    _sign_in(page, base)
    page.goto(f"{base}/residents/new")
    page.get_by_label("Display name").fill("Tomás Ferreira")
    page.get_by_label("Birth date").fill("1985-11-02")
    page.locator("#doc-national_id_card").check()
    page.locator("#doc-lease_or_deed").check()

    page.get_by_role("button", name="Start camera").click()
    _wait_until(page, "document.querySelector('video').videoWidth > 0")
    page.get_by_role("button", name="Take photo").click()
    _wait_until(page, "document.getElementById('photo').files.length === 1")
    assert page.evaluate("document.getElementById('photo').files[0].type") == "image/jpeg"
    assert "Photo taken" in page.locator("[data-camera-status]").inner_text()

    page.get_by_role("button", name="Enrol only").click()
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}"))
    img = page.get_by_role("img", name="Photo of the resident")
    assert img.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert errors == []
    context.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_pages_fit_a_phone_screen(browser: Any, live_server: Any, language: str) -> None:
    """Responsive: at 390 px nothing widens the page; wide tables scroll inside their box."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale=language,
        extra_http_headers={"Accept-Language": language},
    )
    page = context.new_page()
    base = live_server.url
    _sign_in(page, base, "admin", live_server.app)
    for path in (
        "/",
        "/residents/new",
        "/audit",
        "/statistics",
        "/admin/staff",
        "/admin/keys",
        "/admin/tokens",
        "/account",
    ):
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (language, path, width)
    context.close()
