"""Every name the card format accepts prints whole in the name's box (docs/card-format.md
section 3): the longest and widest ones, and the joiners some scripts need."""

from __future__ import annotations

import unicodedata

import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics

import cardformat
from cardservice.printing import _text, holder_name_fits, render_card_pdf
from cardservice.printing._layout import fit_holder_name

DPI = 150
# The name's box on the front, in mm from the trim's lower left corner, with half a millimetre
# of margin for anti-aliasing: from the name column to the right padding, from above the birth
# date's label to under the name's own label.
NAME_BOX = (30.0, 25.9, 82.0, 37.2)

PERSIAN_ZWNJ = "مهرداد نیک\u200cن\u0627م"
DEVANAGARI_ZWJ = "क्\u200dष्मा राणा"

EXTREMES = {
    "widest Latin letter": "m" * 100,
    "capital W": "W" * 100,
    "CJK": "山" * 33,
    "Arabic": "ش" * 50,
    "combining marks": "q\u0323\u0302" * 20,
    "three-em dashes": "A" + "\u2e3b" * 33,
    "Persian with joiners": "نیک\u200cن\u0627م " * 5 + "نیک\u200cن\u0627می",
}


def _outside_box(image: Image.Image) -> Image.Image:
    """The front with the name's box painted white: what must not depend on the name."""
    copy = image.copy()
    x0, y0, x1, y1 = NAME_BOX
    scale = DPI / 25.4
    box = (
        int((x0 + 2.0) * scale),
        int(image.height - (y1 + 2.0) * scale),
        int((x1 + 2.0) * scale) + 1,
        int(image.height - (y0 + 2.0) * scale) + 1,
    )
    copy.paste((255, 255, 255), box)
    return copy


def _identical(a: Image.Image, b: Image.Image) -> bool:
    return ImageChops.difference(a, b).getbbox() is None


@pytest.mark.parametrize("name", list(EXTREMES.values()), ids=list(EXTREMES))
def test_the_longest_names_print_whole_and_inside_their_box(name: str, make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    name = unicodedata.normalize("NFC", name.strip())
    assert cardformat.validate_holder_name(name) == name
    assert len(name.encode()) >= 97  # the format allows 100
    block = fit_holder_name(name)
    assert not block.cut and holder_name_fits(name)
    assert block.size >= 5.0
    # Every character is on the card, in order (wrapping only drops the spaces it breaks at).
    assert "".join(line.source for line in block.lines).replace(" ", "") == name.replace(" ", "")
    assert all(line.width(block.size) <= 51.1 * 72 / 25.4 + 0.01 for line in block.lines)

    card = make_card(holder_name=name)
    short = make_card(holder_name="A", number=card.number, qr_text=card.qr_text)
    printed, reference = open_pdf(render_card_pdf(card)), open_pdf(render_card_pdf(short))
    # Nothing outside the name's box moves or gets ink: the photo, labels, fields and band are
    # pixel for pixel those of a card with a one-letter name, and so is the back (the QR code).
    assert _identical(_outside_box(printed.image(0, DPI)), _outside_box(reference.image(0, DPI)))
    assert _identical(printed.image(1, DPI), reference.image(1, DPI))
    # And the name is drawn: its box is not what the one-letter card shows.
    assert not _identical(printed.image(0, DPI), reference.image(0, DPI))


@pytest.mark.parametrize("name", [PERSIAN_ZWNJ, DEVANAGARI_ZWJ])
def test_names_with_joiners_print(name: str, make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    assert cardformat.validate_holder_name(name) == name
    assert holder_name_fits(name)
    pdf = open_pdf(render_card_pdf(make_card(holder_name=name)))
    without = open_pdf(
        render_card_pdf(make_card(holder_name=name.replace("\u200c", "").replace("\u200d", "")))
    )
    # The joiner changes what is printed (a non-joining or half form), so it reached HarfBuzz.
    assert not _identical(pdf.image(0, DPI), without.image(0, DPI))
    word = name.split(" ")[1] if "\u200c" in name else name.split(" ")[0]
    # ... within its letters' run: one font, one shaping.
    assert len(_text.shape_line(word, "bold").runs) == 1


def test_zwnj_keeps_a_persian_word_in_one_run_with_its_own_glyphs() -> None:
    joined = _text.shape_line("نیکنام", "bold")
    apart = _text.shape_line("نیک\u200cن\u0627م", "bold")
    assert len(apart.runs) == 1
    # "ک" takes its final form before ZWNJ and "ن" its initial form after it: other glyphs,
    # another width, than the word written without the joiner.
    assert apart.units != joined.units


def test_a_name_of_wide_ligatures_is_still_reported_cut() -> None:
    # U+FDFD is one character of 7.9 em: 33 of them (99 bytes) are wider than any legible size
    # can hold, the one kind of name the counter still refuses (docs/card-format.md section 3).
    name = "\ufdfd" * 33
    assert cardformat.validate_holder_name(name) == name
    block = fit_holder_name(name)
    assert block.cut and block.lines[-1].source.endswith("…")
    assert not holder_name_fits(name)


@pytest.mark.parametrize(
    "name", [PERSIAN_ZWNJ, DEVANAGARI_ZWJ, "山\u200d田", "Անի\u200dԱ", "Zoë\u200dAnn"]
)
def test_joiners_never_print_a_notdef_box(name: str) -> None:
    # Fonts without a glyph for the joiner (Droid Sans Fallback, Noto Sans Armenian) still get
    # it in their run: HarfBuzz consumes it rather than drawing an empty box.
    line = _text.shape_line(name, "bold")
    assert line.runs
    for run in line.runs:
        face = pdfmetrics.getFont(run.font).face
        assert 0 not in [face.charToGlyph.get(ord(ch), 0) for ch in run.text], run.font
