"""The agent page reads a real card through a poor camera (issue 16, item 4), in real Chromium.

The card is printed by cardservice.printing with the longest name the card format accepts (the
largest QR code a card has, version 11), photographed by bench/capture/degrade.py in a dim office
(blur, black at 15 %, white at 45 %, noise, tilt) with the code 150 px across in a 1080p frame,
and played to the page as its camera. The capture of agent.js before capture.js (a 1280-wide
stream, whole frames) read none of these shots; the benchmark (bench/bench_capture.py) has the
rates, this test only that the page gets from such a feed to a verdict.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bench.capture import degrade
from cardservice.printing import PrintableCard, render_card_pdf

from .agent_support import camera_context
from .test_agent_page import open_page

pytestmark = pytest.mark.e2e

LONGEST = degrade.CARDS["longest"]


def test_page_reads_a_degraded_card_from_the_camera(launch, tmp_path, server, issuer, now) -> None:
    qr = issuer.card(now=now, name=LONGEST, birth_date=date(1988, 2, 29))
    pdf = render_card_pdf(
        PrintableCard(
            city_name="Strasbourg",
            holder_name=LONGEST,
            birth_date=date(1988, 2, 29),
            gender_marker=None,
            number="PFH8-BZ1",
            expires=now.date().replace(year=now.year + 3),
            photo=None,
            qr_text=qr,
            issuer_code=issuer.code,
        ),
        layout="card",
    )
    card = degrade.PrintedCard(name=LONGEST, qr_text=qr, pdf=pdf)
    video = degrade.make_video(tmp_path / "card.y4m", card, blur=1.0, code_px=150, frames=6)
    assert round(video.code_px) == 150
    context = camera_context(launch, video.path, server.url)
    # Note what the camera gave the page (the test reads it; the page keeps nothing).
    context.add_init_script(
        """(() => {
          const devices = navigator.mediaDevices;
          const open = devices.getUserMedia.bind(devices);
          devices.getUserMedia = async (constraints) => {
            const stream = await open(constraints);
            window.testCameraSettings = stream.getVideoTracks()[0].getSettings();
            return stream;
          };
        })()"""
    )
    try:
        page = context.new_page()
        open_page(page, server.url)
        page.get_by_role("button", name="Start camera").click()
        page.locator("#verdict[data-verdict=valid]").wait_for(timeout=60_000)
        assert "Maria da Conceição" in page.locator("#verdict").inner_text()
        assert_capture_settings(page)
    finally:
        context.close()


def assert_capture_settings(page: Any) -> None:
    """The page asked for the camera's full 1080p (the fake camera's size), not 1280 wide; the
    fake camera has no torch, so its switch stays hidden."""
    settings = page.evaluate("() => window.testCameraSettings")
    assert (settings["width"], settings["height"]) == (degrade.FRAME_W, degrade.FRAME_H)
    assert page.locator("#torch-button").is_hidden()
