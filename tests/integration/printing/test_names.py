"""Every name the card format accepts prints whole in the name's box (docs/card-format.md
section 3): the longest and widest ones, and the joiners some scripts need."""

from __future__ import annotations

import unicodedata

import pytest
from PIL import Image, ImageChops
from reportlab.pdfbase import pdfmetrics

import cardformat
from cardformat.names import is_forbidden
from cardservice.printing import _fonts, _text, holder_name_fits, render_card_pdf
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
    # The most marks in a row the format allows (4), stacked above and below every letter.
    "marks stacked above": "x\u0300\u0301\u0302\u0303" * 11,
    "marks stacked below": "x\u0323\u0324\u0325\u0326" * 11,
    "marks stacked both ways": "x\u0300\u0301\u0323\u0324" * 11,
    "Arabic marks stacked": "\u0628\u0651\u064e\u0670\u0654" * 10,
    "three-em dashes": "A" + "\u2e3b" * 33,
    "Persian with joiners": "نیک\u200cن\u0627م " * 5 + "نیک\u200cن\u0627می",
}
# Short names on one line at a large size, where a stack of marks reaches highest.
STACKS = {
    "above": "Ax\u0300\u0301\u0302\u0303 Diallo",
    "below": "Ax\u0323\u0324\u0325\u0326 Diallo",
    "above and below": "Ax\u0300\u0301\u0302\u0303 Bx\u0323\u0324\u0325\u0326",
    "Arabic": "\u0641\u0627\u0637\u0645\u0629 \u0628\u0651\u064e\u0670\u0654",
    "Hebrew": "\u05e9\u05c1\u05bc\u05b8\u05bd\u05dc\u05d5\u05b9\u05dd",
    "Devanagari": "\u0915\u093c\u094d\u200d\u0937\u093f\u0901 \u0930\u093e\u0923\u093e",
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
    assert len(name.encode()) >= 97  # the format allows 100
    _prints_whole_inside_its_box(name, make_card, open_pdf)


@pytest.mark.parametrize("name", list(STACKS.values()), ids=list(STACKS))
def test_stacked_marks_stay_inside_the_box(name: str, make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    name = unicodedata.normalize("NFC", name)
    block = _prints_whole_inside_its_box(name, make_card, open_pdf)
    # The measured ink, not a guess, placed the line: it reaches no higher than the block's top.
    assert block.baseline(0) * 1000 >= block.lines[0].ink_top


def _prints_whole_inside_its_box(name: str, make_card, open_pdf) -> _text.Block:  # type: ignore[no-untyped-def]
    assert cardformat.validate_holder_name(name) == name
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
    return block


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


@pytest.mark.parametrize("ch", ["m", "W", "\u2e3b"])
def test_names_of_words_of_every_length_fit(ch: str) -> None:
    # Breaking only at spaces, words a little over half a line long take a line each and 100
    # bytes of them need six lines: the layout then fills the lines, breaking inside words.
    for length in range(1, 100 // len(ch.encode())):
        word = ch * length
        name = " ".join([word] * (101 // (len(word.encode()) + 1)))
        block = fit_holder_name(name)
        assert not block.cut, (ch, length)
        assert "".join(line.source for line in block.lines).replace(" ", "") == name.replace(
            " ", ""
        )


def test_the_wide_word_ligatures_are_refused_by_the_format() -> None:
    # U+FDFD is one character of 7.9 em: 33 of them (99 bytes) are wider than any legible size
    # can hold. The format refuses the Arabic word ligatures (docs/card-format.md section 3.2),
    # so no name a verifier accepts is one the card cannot print.
    for name in ("\ufdfd" * 33, "Abd \ufdf2", "\ufdfa"):
        with pytest.raises(cardformat.InvalidNameError):
            cardformat.validate_holder_name(name)


def _widest_per_byte(count: int) -> list[str]:
    """The characters the format accepts and the card's bold fonts draw that are widest for
    their UTF-8 length: the ones that make the widest 100-byte names."""
    widths: dict[str, float] = {}
    for file in _fonts.CHAINS["bold"]:
        font = _fonts.load(file)
        for code in font.cmap:
            ch = chr(code)
            if ch in widths or unicodedata.category(ch)[0] in "CZM" or is_forbidden(ch):
                continue
            widths[ch] = pdfmetrics.stringWidth(ch, font.name, 1000) / len(ch.encode())
    return sorted(widths, key=lambda ch: -widths[ch])[:count]


@pytest.mark.parametrize("ch", _widest_per_byte(12))
def test_the_widest_names_the_format_accepts_fit(ch: str) -> None:
    # 100 bytes of each of the widest characters per byte in every shipped font (Latin "m",
    # "W", the three-em dash, the widest Arabic presentation forms...): each fits whole.
    name = ch * (cardformat.MAX_NAME_BYTES // len(ch.encode()))
    name = unicodedata.normalize("NFC", name)
    try:
        cardformat.check_holder_name(name)
    except cardformat.InvalidNameError:
        return  # not a name (NFC composes it into something else): nothing to print
    assert holder_name_fits(name), f"U+{ord(ch):04X}"


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
