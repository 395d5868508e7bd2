"""The agent page in the field, at phone size (390 x 844): four verdicts, the compare
checklist, continuous scanning, wedge scanners without Enter, signals, kiosk mode, the trust
data's age and a device clock that cannot be believed (issue 16)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cardformat import Status
from verifier.config import LANGUAGES

from .agent_support import PHONE, FakeIssuer, camera_context, live_server, screenshot
from .field_support import card_back, write_y4m_sequence
from .test_agent_page import assert_accessible_verdict, open_page, scan_with_wedge, verdict_of

pytestmark = pytest.mark.e2e

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
# How many lines an element's text takes.
LINES = """(id) => {
  const el = document.getElementById(id);
  return el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight);
}"""


def strings(page: Any) -> dict[str, Any]:
    """The page's own catalogue (every language), as the server rendered it."""
    data: dict[str, Any] = json.loads(page.locator("#agent-strings").text_content())
    return data


def clear(page: Any) -> None:
    page.locator("#clear-button").click()
    page.locator("#verdict[data-verdict=idle]").wait_for()


def test_valid_verdict_asks_the_agent_to_compare(page, server, issuer, now) -> None:
    open_page(page, server.url)
    assert page.viewport_size == PHONE
    scan_with_wedge(page, issuer.card(now=now))
    assert verdict_of(page) == "valid"
    assert_accessible_verdict(page)
    compare = page.locator("#verdict-compare")
    assert compare.is_visible()
    text = compare.inner_text()
    assert "match the printed card" in text
    assert "the person in front of you" in text
    assert "copied onto a false card" in text
    # Inside the verdict, read with it, and on the screen without scrolling sideways.
    assert page.locator("#verdict #verdict-compare").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, "phone-valid-compare")


def test_the_checklist_in_every_language(page, server, issuer, now) -> None:
    open_page(page, server.url)
    scan_with_wedge(page, issuer.card(now=now))
    assert verdict_of(page) == "valid"
    catalogue = strings(page)
    for lang in LANGUAGES:
        page.locator("#lang-select").select_option(lang)
        items = page.locator("#verdict-compare li").all_inner_texts()
        assert items == [catalogue[lang]["compare_name"], catalogue[lang]["compare_photo"]]
        title = page.locator("#verdict-compare .compare-title").inner_text()
        assert title == catalogue[lang]["compare_title"]
        if lang != "en":  # translated, not the English text again
            assert items[0] != catalogue["en"]["compare_name"], lang
        # At 390 px the countdown stays on one line: "20 s." never wraps alone.
        assert page.evaluate(LINES, "countdown") < 1.5, lang
        assert page.evaluate(OVERFLOW) <= 0, lang
        screenshot(page, f"phone-valid-{lang}")


def test_invalid_verdict_gives_its_reason(page, server, issuer, now, publish) -> None:
    revoked = issuer.card(now=now, status=Status.REVOKED)
    publish()
    open_page(page, server.url)
    scan_with_wedge(page, revoked)
    assert verdict_of(page) == "invalid"
    assert page.locator("#verdict").get_attribute("data-result") == "revoked"
    assert page.locator("#verdict-title").text_content() == "Not valid"
    assert "revoked by its issuing city" in page.locator("#verdict-message").inner_text()
    assert page.locator("#verdict-compare").is_hidden()
    assert_accessible_verdict(page)
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, "phone-invalid")


def test_unknown_verdicts(page, make_app, issuer, now, tmp_path) -> None:
    app = make_app(MAX_STATUS_AGE=3600)
    with live_server(app) as live:
        open_page(page, live.url)
        scan_with_wedge(page, FakeIssuer(code="ES BCN").card(now=now))
        assert verdict_of(page) == "unknown"
        assert page.locator("#verdict").get_attribute("data-result") == "unknown_issuer"
        assert page.locator("#verdict-title").text_content() == "Cannot be checked here"
        assert page.locator("#verdict-compare").is_hidden()
        assert_accessible_verdict(page)
        assert page.evaluate(OVERFLOW) <= 0
        screenshot(page, "phone-unknown-issuer")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda qr: qr[:-25], id="truncated"),
        pytest.param(lambda qr: qr[:60] + " " + qr[60:], id="stray-space"),
        pytest.param(lambda qr: "https://example.org/menu?table=12", id="another-qr-code"),
    ],
)
def test_a_misread_is_unreadable_not_invalid(page, server, issuer, now, damage) -> None:
    qr = issuer.card(now=now)
    open_page(page, server.url)
    scan_with_wedge(page, damage(qr))
    assert verdict_of(page) == "unreadable"
    assert page.locator("#verdict").get_attribute("data-result") == "malformed"
    assert page.locator("#verdict-title").text_content() == "Could not read the code"
    assert "Scan again" in page.locator("#verdict-message").inner_text()
    # Neutral: no red, no stop sign, nothing about a card.
    background = page.evaluate(
        "() => getComputedStyle(document.getElementById('verdict')).backgroundColor"
    )
    assert background == "rgb(255, 255, 255)"
    assert page.locator("#verdict .icon-unreadable").is_visible()
    assert page.locator("#verdict-details").is_hidden()
    assert page.evaluate("() => window.innerHeight") == PHONE["height"]
    screenshot(page, "phone-unreadable")
    # The scanner is still ready: the next scan goes straight in, without clearing first.
    assert page.evaluate("() => document.activeElement.id") == "wedge-input"
    page.keyboard.insert_text(qr)
    page.keyboard.press("Enter")
    page.locator("#verdict[data-verdict=valid]").wait_for()


def test_phone_texts_do_not_say_click(page, server) -> None:
    open_page(page, server.url)
    catalogue = strings(page)
    hint = page.locator("#wedge-hint").inner_text()
    assert "click" not in hint.lower()
    for lang in LANGUAGES:
        assert "click" not in catalogue[lang]["scanner_hint"].lower(), lang
        assert "clique" not in catalogue[lang]["scanner_hint"].lower(), lang


def test_wedge_scanner_without_enter(page, server, issuer, now) -> None:
    open_page(page, server.url)
    field = page.locator("#wedge-input")
    # A scanner types fast and sends nothing at the end: the pause submits the scan.
    field.focus()
    page.keyboard.type(issuer.card(now=now), delay=4)
    assert verdict_of(page) == "valid"
    assert field.input_value() == ""
    clear(page)
    # A person typing slowly is not a scanner: nothing is submitted until Enter.
    field.focus()
    page.keyboard.type("MC1:6BF", delay=150)
    page.wait_for_timeout(900)
    assert page.locator("#verdict").get_attribute("data-verdict") == "idle"
    assert field.input_value() == "MC1:6BF"
    page.keyboard.press("Enter")
    assert verdict_of(page) == "unreadable"


def test_a_scanner_that_ends_with_tab(page, server, issuer, now) -> None:
    open_page(page, server.url)
    page.locator("#wedge-input").focus()
    page.keyboard.insert_text(issuer.card(now=now))
    page.keyboard.press("Tab")
    assert verdict_of(page) == "valid"


def test_continuous_scanning_with_the_camera(launch, tmp_path, server, issuer, now, publish):
    """Two printed cards in front of the fake camera, one after the other: the camera stays
    on and the second card's verdict replaces the first's."""
    first = issuer.card(now=now, name="Lucía Fernández")
    second = issuer.card(now=now, name="Bruno Keller", status=Status.REVOKED)
    publish()
    video = tmp_path / "queue.y4m"
    write_y4m_sequence(
        video,
        [
            card_back(first, name="Lucía Fernández", now=now),
            card_back(second, name="Bruno Keller", now=now),
        ],
        frames_each=15,
    )
    context = camera_context(launch, video, server.url)
    try:
        page = context.new_page()
        open_page(page, server.url)
        page.get_by_role("button", name="Start camera").click()
        page.locator("#verdict[data-verdict=valid]").wait_for(timeout=30_000)
        assert "Lucía Fernández" in page.locator("#verdict").inner_text()
        assert page.locator("#verdict-compare").is_visible()
        # The next card, without touching the page.
        page.locator("#verdict[data-verdict=invalid]").wait_for(timeout=30_000)
        assert page.locator("#verdict").get_attribute("data-result") == "revoked"
        assert "Lucía Fernández" not in page.locator("#verdict").inner_text()
        assert page.locator("#camera-box").is_visible()
        assert page.get_by_role("button", name="Stop camera").is_visible()
        # And back to the first card, as the queue goes on.
        page.locator("#verdict[data-verdict=valid]").wait_for(timeout=30_000)
    finally:
        context.close()


RECORD_VIBRATIONS = """
window.__vibrations = [];
Object.defineProperty(Navigator.prototype, "vibrate", {
  configurable: true,
  value: (pattern) => { window.__vibrations.push(pattern); return true; },
});
"""


def test_sound_and_vibration_per_verdict(page, server, issuer, now, publish) -> None:
    revoked = issuer.card(now=now, status=Status.REVOKED)
    publish()
    page.add_init_script(RECORD_VIBRATIONS)
    open_page(page, server.url)
    scan_with_wedge(page, issuer.card(now=now))
    assert verdict_of(page) == "valid"
    assert page.evaluate("() => window.__vibrations") == []  # off until the agent turns it on
    clear(page)
    page.get_by_label("Sound and vibration").check()
    patterns = []
    for qr, verdict in [
        (issuer.card(now=now), "valid"),
        (revoked, "invalid"),
        ("MC1:", "unreadable"),
    ]:
        scan_with_wedge(page, qr)
        assert verdict_of(page) == verdict
        assert page.evaluate("() => window.citycardAgent.lastSignal()") == verdict
        clear(page)
        patterns.append(page.evaluate("() => window.__vibrations.at(-1)"))
    assert len({json.dumps(p) for p in patterns}) == 3  # three distinct rhythms
    audio = page.evaluate("() => typeof AudioContext")
    assert audio == "function"
    # The choice is remembered (a preference, not card data).
    page.reload()
    page.evaluate("() => window.citycardAgent.ready")
    assert page.get_by_label("Sound and vibration").is_checked()


def test_kiosk_mode(page, make_app, issuer, now) -> None:
    with live_server(make_app(AGENT_CLEAR_SECONDS=2)) as live:
        open_page(page, live.url + "/?kiosk=1")
        assert page.evaluate("() => window.citycardAgent.kiosk") is True
        assert page.locator("html").get_attribute("data-kiosk") == "on"
        # No way off the page: no photo picker, no context menu.
        assert page.locator("#photo-panel").is_hidden()
        prevented = page.evaluate(
            """() => !document.body.dispatchEvent(
                 new MouseEvent('contextmenu', {bubbles: true, cancelable: true}))"""
        )
        assert prevented
        # No camera here: a kiosk with a scanner alone shows no camera error.
        page.wait_for_timeout(500)
        assert page.locator("#camera-error").is_hidden()
        # Someone switches to French; after the card the kiosk is back in its own language.
        page.locator("#lang-select").select_option("fr")
        assert page.locator("html").get_attribute("lang") == "fr"
        page.locator("#wedge-input").focus()
        page.keyboard.insert_text(issuer.card(now=now))
        page.keyboard.press("Enter")
        assert verdict_of(page) == "valid"
        # The verdict is in the language of the person who chose it...
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("#verdict-title").text_content() == strings(page)["fr"]["verdict_valid"]
        # ...and once it has cleared itself, the kiosk is back in its own.
        page.locator("#verdict[data-verdict=idle]").wait_for(timeout=5_000)
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.evaluate("() => localStorage.getItem('citycard-agent-language')") is None
        # The scanner field has the focus back for the next person.
        page.locator("body").click(position={"x": 5, "y": 300})
        page.wait_for_timeout(100)
        assert page.evaluate("() => document.activeElement.id") == "wedge-input"


def test_the_page_shows_the_age_of_its_trust_data(page, server) -> None:
    open_page(page, server.url)
    line = page.locator("#trust-age")
    assert line.is_visible()
    assert line.inner_text().startswith("Card statuses updated")
    assert 0 <= int(line.get_attribute("data-age-seconds")) < 120
    assert page.evaluate(LINES, "trust-age") < 1.5


def test_a_device_clock_set_before_the_snapshot(page, server, issuer, now) -> None:
    """The device's clock reads three days ago. A card that expired yesterday would look valid
    by that clock: the page refuses to judge time and says to check the clock."""
    expired = issuer.card(now=now - timedelta(days=10), valid_for=timedelta(days=9))
    page.clock.set_fixed_time(now - timedelta(days=3))
    open_page(page, server.url)
    age = page.locator("#trust-age")
    assert age.get_attribute("data-clock") == "doubt"
    assert "check its date and time" in age.inner_text()
    page.context.set_offline(True)
    scan_with_wedge(page, expired)
    assert verdict_of(page) == "unknown"
    assert page.locator("#verdict").get_attribute("data-result") == "clock_in_doubt"
    assert page.locator("#verdict-title").text_content() == "Check the clock"
    assert "Correct the device's clock" in page.locator("#verdict-message").inner_text()
    assert page.locator("#verdict-details").is_hidden()
    assert_accessible_verdict(page)
    screenshot(page, "phone-clock-in-doubt")
    # With the device's clock right, the same page judges the card (expired) again. The verdict
    # is cleared first: moving the clock three days on lets its 20-second timer fire at once.
    clear(page)
    page.clock.set_fixed_time(now)
    scan_with_wedge(page, expired)
    assert verdict_of(page) == "invalid"
    assert page.locator("#verdict").get_attribute("data-result") == "expired"
