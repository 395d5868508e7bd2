"""The agent page in real Chromium: the three ways in, offline, right-to-left, clearing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from cardformat import Status

from .agent_support import (
    PHONE,
    camera_context,
    forge,
    live_server,
    qr_image,
    screenshot,
    write_y4m,
)

pytestmark = pytest.mark.e2e


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.evaluate("() => window.citycardAgent.ready")
    page.wait_for_function("() => window.citycardAgent.trustLoaded()")
    # The service worker's install downloads the page's files, the decoder's wasm included. A
    # test that stopped the server during that download cut the transfer mid-file (the server
    # then left the file open: a ResourceWarning that failed the run), and it would test
    # something else than "the server went away after the page was ready".
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")


def open_offline(page: Any, server: Any) -> None:
    """The page opened once (the service worker then holds the page and the trust snapshot),
    then the network cut off for real: the browser offline, ``server`` (a LiveServer) stopped,
    the page reloaded from the cache."""
    open_page(page, server.url)
    page.context.set_offline(True)
    server.stop()
    page.reload()
    page.evaluate("() => window.citycardAgent.ready")
    page.wait_for_function("() => window.citycardAgent.trustLoaded()")
    assert "Offline" in page.locator("#connection").inner_text()


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
    assert page.locator("#verdict-title").text_content() == "Genuine"
    assert_accessible_verdict(page)
    assert "Amina Haddad" in verdict.inner_text()
    screenshot(page, "en-genuine")


CONTRAST = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const box = getComputedStyle(document.getElementById("verdict"));
  const title = getComputedStyle(document.getElementById("verdict-title"));
  const [a, b] = [lum(rgb(title.color)), lum(rgb(box.backgroundColor))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def assert_accessible_verdict(page: Any) -> None:
    """Words and an icon, not colour alone; announced; readable (WCAG AA contrast)."""
    live = page.locator("#verdict-live")
    assert live.get_attribute("aria-live") == "assertive"
    assert page.locator("#verdict-live #verdict-title").text_content().strip()
    assert page.locator("#verdict .verdict-icon:visible").count() == 1
    assert page.evaluate(CONTRAST) >= 4.5


def verdict_of(page: Any) -> str:
    page.locator("#verdict:not([data-verdict=idle]):not([data-verdict=checking])").wait_for()
    return page.locator("#verdict").get_attribute("data-verdict")


def test_not_genuine_card_shows_red_verdict_without_holder_data(page, server, issuer, now) -> None:
    forged = forge(issuer.card(now=now), old="Amina", new="Amira")
    open_page(page, server.url)
    scan_with_wedge(page, forged)
    assert verdict_of(page) == "invalid"
    assert page.locator("#verdict").get_attribute("data-result") == "bad_signature"
    assert page.locator("#verdict-title").text_content() == "Not genuine"
    assert_accessible_verdict(page)
    assert page.locator("#verdict-details").is_hidden()  # nothing forged is displayed
    assert "Amira" not in page.content()
    # The text field is empty again and keeps the focus for the next scan.
    assert page.locator("#wedge-input").input_value() == ""
    screenshot(page, "en-not-genuine")


def test_fake_camera_reads_a_card(launch, tmp_path, server, issuer, now) -> None:
    qr = issuer.card(now=now, name="Lucía Fernández")
    video = tmp_path / "card.y4m"
    write_y4m(video, qr_image(qr))
    context = camera_context(launch, video, server.url)
    try:
        page = context.new_page()
        open_page(page, server.url)
        # Headless Chromium on Linux has no BarcodeDetector for QR codes: this exercises the
        # vendored zxing-wasm decoder, served by the app itself.
        has_native = page.evaluate(
            """async () => 'BarcodeDetector' in window &&
                 (await BarcodeDetector.getSupportedFormats()).includes('qr_code')"""
        )
        page.get_by_role("button", name="Start camera").click()
        page.locator("#verdict[data-verdict=valid]").wait_for(timeout=30_000)
        assert "Lucía Fernández" in page.locator("#verdict").inner_text()
        # Continuous scanning: the camera stays on for the next card.
        assert page.locator("#camera-box").is_visible()
        requests = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
        if not has_native:
            assert any(name.endswith("zxing_reader.wasm") for name in requests)
        assert all(name.startswith(server.url) for name in requests)
    finally:
        context.close()


def test_photo_upload_is_decoded_by_the_server(page, server, issuer, now, tmp_path) -> None:
    qr = issuer.card(now=now, birth_date=None)
    photo = tmp_path / "card.png"
    qr_image(qr).save(photo)
    open_page(page, server.url)
    with page.expect_response("**/api/v1/decode-image") as response:
        page.get_by_label("Check photo").set_input_files(str(photo))
    assert response.value.status == 200
    assert verdict_of(page) == "valid"
    assert "Not on the card" in page.locator("#verdict").inner_text()  # no birth date


def test_photo_without_a_code_says_so(page, server, tmp_path) -> None:
    photo = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(photo)
    open_page(page, server.url)
    page.get_by_label("Check photo").set_input_files(str(photo))
    page.get_by_text("No QR code could be read in this photo").wait_for()
    # Unreadable, not "not valid": nothing was read, so nothing is said about a card.
    assert page.locator("#verdict").get_attribute("data-verdict") == "unreadable"
    assert page.locator("#verdict-title").text_content() == "Could not read the code"


def test_offline_after_one_visit(page, server, issuer, now, publish, tmp_path) -> None:
    valid = issuer.card(now=now)
    revoked = issuer.card(now=now, status=Status.REVOKED)
    publish()
    open_offline(page, server)

    scan_with_wedge(page, valid)
    assert verdict_of(page) == "valid"
    assert page.locator("#verdict-offline").is_visible()
    assert "Amina Haddad" in page.locator("#verdict").inner_text()
    screenshot(page, "en-offline-genuine")

    page.get_by_role("button", name="Clear now").click()
    scan_with_wedge(page, revoked)
    assert verdict_of(page) == "invalid"
    assert page.locator("#verdict").get_attribute("data-result") == "revoked"

    page.get_by_role("button", name="Clear now").click()
    scan_with_wedge(page, forge(valid, old="Amina", new="Amira"))
    assert verdict_of(page) == "invalid"
    assert page.locator("#verdict").get_attribute("data-result") == "bad_signature"

    # A photo is decoded on the device too (the cached zxing-wasm), then verified locally.
    page.get_by_role("button", name="Clear now").click()
    photo = tmp_path / "card.png"
    qr_image(valid).save(photo)
    page.get_by_label("Check photo").set_input_files(str(photo))
    assert verdict_of(page) == "valid"
    assert page.locator("#verdict-offline").is_visible()


def test_arabic_page_is_right_to_left(browser, server, issuer, now) -> None:
    context = browser.new_context(viewport=PHONE, locale="ar")
    try:
        page = context.new_page()
        open_page(page, server.url + "/?lang=ar")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("html").get_attribute("lang") == "ar"
        scan_with_wedge_by_id(page, issuer.card(now=now, name="فاطمة الزهراء"))
        assert verdict_of(page) == "valid"
        assert "فاطمة الزهراء" in page.locator("#verdict").inner_text()
        assert "ستراسبورغ" in page.locator("#verdict").inner_text()  # the city's Arabic name
        screenshot(page, "ar-genuine")
        page.locator("#clear-button").click()
        scan_with_wedge_by_id(page, forge(issuer.card(now=now), old="Amina", new="Amira"))
        assert verdict_of(page) == "invalid"
        screenshot(page, "ar-not-genuine")
    finally:
        context.close()


def scan_with_wedge_by_id(page: Any, text: str) -> None:
    page.locator("#wedge-input").click()
    page.keyboard.insert_text(text)
    page.keyboard.press("Enter")


def test_language_switcher_changes_language_without_reload(page, server, issuer, now) -> None:
    open_page(page, server.url)
    assert page.locator("html").get_attribute("dir") == "ltr"
    page.get_by_label("Language").select_option("ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.locator("#lang-select").select_option("fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("html").get_attribute("dir") == "ltr"
    # The choice is remembered on this device (the only thing the page stores).
    page.reload()
    page.evaluate("() => window.citycardAgent.ready")
    assert page.locator("html").get_attribute("lang") == "fr"


def test_result_clears_after_the_configured_time(page, make_app, issuer, now) -> None:
    with live_server(make_app(AGENT_CLEAR_SECONDS=2)) as quick:
        open_page(page, quick.url)
        scan_with_wedge(page, issuer.card(now=now))
        assert verdict_of(page) == "valid"
        assert page.locator("#countdown").inner_text().startswith("Clears in")
        page.locator("#verdict[data-verdict=idle]").wait_for(timeout=5_000)
        assert "Amina Haddad" not in page.locator("body").inner_text()
        assert page.locator("#verdict-details").is_hidden()


def test_in_browser_verification_is_fast(page, server, issuer, now) -> None:
    """Target: verifying a decoded card in the browser takes at most 50 ms.

    Measured with performance.now() around the page's own offline verification (the path the
    agent uses with no network): base45, CBOR, COSE checks, WebCrypto Ed25519, status list.
    The snapshot is prepared once per page load (keys imported, lists inflated); that cost is
    measured too, but it is not paid per card.
    """
    qr = issuer.card(now=now)
    open_page(page, server.url)
    timings = page.evaluate(
        """async (qr) => {
            const snapshot = await (await fetch('/api/v1/trust-snapshot')).json();
            const t0 = performance.now();
            const trust = await window.citycardAgent.prepare(snapshot);
            const prepare = performance.now() - t0;
            const ms = [];
            for (let i = 0; i < 200; i++) {
                const start = performance.now();
                const answer = await window.citycardAgent.verify(qr, trust);
                ms.push(performance.now() - start);
                if (answer.result !== 'valid') throw new Error(answer.result);
            }
            ms.sort((a, b) => a - b);
            return {prepare, first: ms[0], median: ms[100], p95: ms[190], max: ms[199]};
        }""",
        qr,
    )
    print(f"in-browser verify time (ms): {timings}")
    assert timings["median"] <= 50
    assert timings["p95"] <= 50
    # And through the page itself, as a scan does it.
    page.evaluate("(qr) => window.citycardAgent.verifyLocally(qr)", qr)
    assert page.evaluate("() => window.citycardAgent.lastVerifyMs") <= 50


def test_keyboard_only_use(page, server, issuer, now) -> None:
    open_page(page, server.url)
    # The scanner field has the focus at a desk (fine pointer), so a scan needs no click.
    assert page.evaluate("() => document.activeElement.id") == "wedge-input"
    screenshot(page, "en-idle")
    page.keyboard.insert_text(issuer.card(now=now))
    page.keyboard.press("Enter")
    assert verdict_of(page) == "valid"
    page.locator("#clear-button").focus()
    page.keyboard.press("Enter")
    page.locator("#verdict[data-verdict=idle]").wait_for()


def test_stale_status_list_gives_status_unknown(page, make_app, issuer, now, tmp_path) -> None:
    qr = issuer.card(now=now)
    app = make_app(MAX_STATUS_AGE=3600)
    # The last list the verifier could fetch is two hours old: too old to rule out a revocation.
    issuer.install(tmp_path / "instance", now=now, status_issued_at=now - timedelta(hours=2))
    with live_server(app) as live:
        open_page(page, live.url)
        scan_with_wedge(page, qr)
        assert verdict_of(page) == "unknown"
        text = page.locator("#verdict").inner_text()
        assert page.locator("#verdict-title").text_content() == "Status unknown"
        assert_accessible_verdict(page)
        assert "Amina Haddad" in text  # the card itself is genuine: its holder is shown
        screenshot(page, "en-status-unknown")


def test_server_gone_while_the_page_is_open(page, server, issuer, now) -> None:
    """The browser still believes it is online, but the server does not answer: the page
    verifies on the device instead of failing."""
    qr = issuer.card(now=now)
    open_page(page, server.url)
    server.stop()
    scan_with_wedge(page, qr)
    assert verdict_of(page) == "valid"
    assert page.locator("#verdict-offline").is_visible()


def test_a_late_answer_never_replaces_the_current_one(page, server, issuer, now) -> None:
    """Two scans in a row; the first answer arrives last. It must not overwrite the second."""
    first = forge(issuer.card(now=now), old="Amina", new="Amira")
    second = issuer.card(now=now)
    held: list[Any] = []

    def hold_first(route: Any) -> None:
        if not held:
            held.append(route)  # answered only after the second scan's verdict is shown
        else:
            route.continue_()

    open_page(page, server.url)
    page.route("**/api/v1/verify", hold_first)
    scan_with_wedge(page, first)
    page.wait_for_function(
        "() => document.getElementById('verdict').dataset.verdict === 'checking'"
    )
    scan_with_wedge(page, second)
    assert verdict_of(page) == "valid"
    held[0].continue_()
    page.wait_for_timeout(700)
    assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
    assert page.locator("#verdict").get_attribute("data-result") == "valid"


def test_no_camera_explains_the_other_ways_in(page, server) -> None:
    """Without a usable camera (none here, or refused) the page says what to use instead."""
    open_page(page, server.url)
    page.get_by_role("button", name="Start camera").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "scanner field or a photo" in alert.inner_text()
    assert page.locator("#camera-box").is_hidden()
