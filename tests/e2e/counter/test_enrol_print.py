"""Enrolment to a printed card in real Chromium, counting the clicks (target: at most 6), and
the duplicate check before a record exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.counter.support import png_bytes

from .test_counter_flow import _sign_in, _wait_until

pytestmark = pytest.mark.e2e

# Counts window.print() calls in the page and in the frame the card is printed from. The print
# dialog itself is the browser's, outside the page: headless Chromium has none to open (asking
# it to print a PDF frame there crashes the page), so the spy records the call in its place.
PRINT_SPY = """
(() => {
  const spy = (win) => {
    try {
      win.print = () => {
        window.top.__prints = (window.top.__prints || 0) + 1;
        window.top.__printed_type = win.document ? win.document.contentType : "";
      };
    } catch (error) { /* a frame of another origin: not ours to print */ }
  };
  spy(window);
  new MutationObserver(() => {
    document.querySelectorAll("iframe").forEach((frame) => {
      if (!frame.__spied) {
        frame.__spied = true;
        frame.addEventListener("load", () => spy(frame.contentWindow), { capture: true });
      }
    });
  }).observe(document, { childList: true, subtree: true });
})();
"""


class Clicks:
    """The clerk's clicks, counted as they are made."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.count = 0

    def click(self, locator: Any) -> None:
        locator.click()
        self.count += 1

    def check(self, locator: Any) -> None:
        locator.check()
        self.count += 1

    def choose_file(self, locator: Any, path: Path) -> None:
        # One click opens the file chooser; choosing the file in it is the same click's end.
        locator.set_input_files(str(path))
        self.count += 1


def _fill_person(page: Any, name: str, photo: Path, clicks: Clicks) -> None:
    # Typing is not clicking: the fields are reached with the keyboard (Tab).
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Birth date").fill("1990-05-17")
    clicks.choose_file(page.get_by_label("Photo", exact=True), photo)
    clicks.check(page.locator("#doc-passport"))
    clicks.check(page.locator("#doc-utility_bill"))


def test_enrolment_to_a_printed_card_in_six_clicks(
    browser: Any, live_server: Any, tmp_path: Path, screenshot_dir: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    context.add_init_script(PRINT_SPY)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    pdf_requests: list[str] = []
    page.on("request", lambda r: pdf_requests.append(r.url) if ".pdf" in r.url else None)
    base = live_server.url
    _sign_in(page, base)
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())

    clicks = Clicks(page)
    clicks.click(page.get_by_role("link", name="Enrol", exact=True))
    # While points are short, the enrol buttons wait and the meter names the short category.
    page.get_by_label("Display name").fill("Zoé Ngọc Lâm-Dubois")
    assert page.get_by_role("button", name="Enrol and issue the card").is_disabled()
    assert "Identity (0 / 3)" in page.locator("[data-unmet-text]").inner_text()
    _fill_person(page, "Zoé Ngọc Lâm-Dubois", photo, clicks)
    assert page.get_by_role("button", name="Enrol and issue the card").is_enabled()
    clicks.click(page.get_by_role("button", name="Enrol and issue the card"))
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}\?"))

    # The card opened in the print dialog at once, from the resident page: no download, no
    # other page. The one click left is the dialog's own "Print".
    _wait_until(page, "(window.__prints || 0) >= 1", timeout=20)
    printed = page.locator("body").get_attribute("data-printed")
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{3}", printed or ""), printed
    assert any(f"/cards/{printed}/card.pdf" in url and "inline=1" in url for url in pdf_requests)
    dialog_print = 1
    assert clicks.count + dialog_print <= 6, clicks.count
    page.screenshot(path=str(screenshot_dir / "enrolled-printing-en.png"), full_page=True)

    # Printing again is one click on the page, and counts as a reprint.
    page.get_by_role("link", name="Print the card").click()
    _wait_until(page, "(window.__prints || 0) >= 2", timeout=20)
    assert "reprint=1" in pdf_requests[-1]
    assert page.evaluate("window.__printed_type") == "application/pdf"
    assert errors == []
    context.close()


def test_a_duplicate_is_caught_before_the_record_exists(
    browser: Any, live_server: Any, tmp_path: Path, screenshot_dir: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    _sign_in(page, base)
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes())
    clicks = Clicks(page)

    page.goto(f"{base}/residents/new")
    _fill_person(page, "Amadou Diallo-Sy", photo, clicks)
    page.get_by_role("button", name="Enrol only").click()
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}"))
    first = re.search(r"/residents/([0-9a-f]{32})", page.url).group(1)

    # The same person, typed without capitals or hyphen: stopped, with the record to check.
    page.goto(f"{base}/residents/new")
    _fill_person(page, "amadou diallo sy", photo, clicks)
    page.get_by_role("button", name="Enrol only").click()
    panel = page.locator("[data-duplicates]")
    panel.wait_for()
    assert panel.locator(f'a[href="/residents/{first}"]').count() == 1
    # Nothing to type again, and the photo is still there.
    assert page.get_by_label("Display name").input_value() == "amadou diallo sy"
    assert page.locator("[data-preview]").get_attribute("src").startswith("data:image/jpeg")
    assert page.locator("#doc-passport").is_checked()
    page.screenshot(path=str(screenshot_dir / "duplicate-en.png"), full_page=True)

    page.get_by_role("button", name="This is another person: enrol only").click()
    page.wait_for_url(re.compile(r"/residents/[0-9a-f]{32}"))
    second = re.search(r"/residents/([0-9a-f]{32})", page.url).group(1)
    assert second != first
    assert "Enrolled although 1 other record" in page.locator("main").inner_text()
    assert errors == []
    context.close()
