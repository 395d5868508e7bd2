"""The card says what it is, on both faces; no empty band; the holder's data in pure black."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cardservice.printing import InvalidCardError, render_card_pdf

TITLE = "Carte citoyenne · City card"


def test_both_faces_carry_the_title(make_card: Callable[..., Any], open_pdf: Any) -> None:
    rendered = open_pdf(render_card_pdf(make_card(card_title=TITLE), layout="card"))
    assert TITLE in rendered.text(0)  # front, under the city's name
    assert TITLE in rendered.text(1)  # back, in its top band


def test_no_title_no_text(make_card: Callable[..., Any], open_pdf: Any) -> None:
    rendered = open_pdf(render_card_pdf(make_card(card_title=""), layout="card"))
    assert "City card" not in rendered.text(0) + rendered.text(1)


def test_a_title_with_control_characters_is_refused(make_card: Callable[..., Any]) -> None:
    with pytest.raises(InvalidCardError):
        make_card(card_title="City\x07card")


def test_the_foot_of_the_front_is_not_an_empty_band(
    make_card: Callable[..., Any], open_pdf: Any
) -> None:
    # The bottom 2 mm of the front, inside the trim: card white now, not the band's blue.
    rendered = open_pdf(render_card_pdf(make_card(card_title=TITLE, photo=None), layout="card"))
    image = rendered.image(0, dpi=150).convert("RGB")
    width, height = image.size
    bleed = round(2.0 / 25.4 * 150)
    row = height - bleed - 3
    samples = [image.getpixel((x, row)) for x in range(bleed + 5, width - bleed - 5, 40)]
    assert all(min(pixel) > 240 for pixel in samples), samples


def test_personal_data_is_pure_black(make_card: Callable[..., Any], open_pdf: Any) -> None:
    # Pure black is what card printers' drivers put on the resin black panel. On the front,
    # only the holder's data is drawn in it (labels are grey, the band blue, the photo colour):
    # the darkest pixels of the strokes are exactly black, not the near-black of other text.
    rendered = open_pdf(render_card_pdf(make_card(card_title=TITLE, photo=None), layout="card"))
    image = rendered.image(0, dpi=300).convert("RGB")
    assert (0, 0, 0) in {pixel for _count, pixel in image.getcolors(maxcolors=1 << 20)}
