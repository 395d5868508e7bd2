"""Every script the card prints, it prints whole: each letter, mark and digit of the script's
Unicode blocks that the card format accepts in a name has a glyph in the card's fonts.

The format itself is not limited to these scripts (docs/card-format.md section 3.2): a name in a
script with no shipped font is refused at enrolment ("uses characters the card cannot print"),
the one refusal beyond the format's rule. Adding a script is adding its Noto font
(fonts/README.md) and its blocks here.
"""

from __future__ import annotations

import unicodedata

import pytest

from cardformat.names import is_forbidden
from cardservice.printing import _fonts, unsupported_characters

# Script: its blocks (first, last code point).
SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "Latin": ((0x41, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF), (0x300, 0x36F)),
    "Greek": ((0x370, 0x3E1), (0x3F0, 0x3FF), (0x1F00, 0x1FFF)),
    "Cyrillic": ((0x400, 0x52F),),
    "Armenian": ((0x530, 0x58F),),
    "Hebrew": ((0x590, 0x5EE), (0x5F0, 0x5FF)),
    "Arabic": ((0x600, 0x6FF), (0x750, 0x77F)),
    "Devanagari": ((0x900, 0x97F),),
    "Bengali": ((0x980, 0x9FF),),
    "Gurmukhi": ((0xA00, 0xA7F),),
    "Gujarati": ((0xA80, 0xAFF),),
    "Oriya": ((0xB00, 0xB7F),),
    "Tamil": ((0xB80, 0xBFF),),
    "Telugu": ((0xC00, 0xC7F),),
    "Kannada": ((0xC80, 0xCFF),),
    "Malayalam": ((0xD00, 0xD7F),),
    "Sinhala": ((0xD80, 0xDFF),),
    "Thai": ((0xE00, 0xE7F),),
    "Lao": ((0xE80, 0xEFF),),
    "Myanmar": ((0x1000, 0x109F),),
    "Georgian": ((0x10A0, 0x10FF),),
    "Ethiopic": ((0x1200, 0x137F),),
    "Khmer": ((0x1780, 0x17FF),),
    # Hangul: every syllable, and the modern jamo (the archaic ones are in no shipped font).
    "Hangul": ((0xAC00, 0xD7A3), (0x1100, 0x1112), (0x1161, 0x1175), (0x11A8, 0x11C2)),
    # Han: the URO up to U+9FA5, what Droid Sans Fallback covers (U+9FA6-9FFF, added from
    # Unicode 4.1 on, are rare ideographs no shipped font has).
    "Han": ((0x4E00, 0x9FA5),),
    "Kana": ((0x3041, 0x3094), (0x3099, 0x309E), (0x30A1, 0x30F6), (0x30FB, 0x30FE)),
}


# Letters the Debian fonts (Noto 2020) predate, added in Unicode 12.0 to 14.0: a name holding
# one is refused at enrolment, as a name in a script without a font is. Listed so that any
# other gap fails the test.
GAPS = {
    0x0B55: "Oriya sign overline (Unicode 13.0)",
    0x0C3C: "Telugu sign nukta (Unicode 14.0)",
    0x0C5D: "Telugu letter nakaara pollu (Unicode 14.0)",
    0x0CDD: "Kannada letter nakaara pollu (Unicode 14.0)",
    **dict.fromkeys(
        (0x0E86, 0x0E89, 0x0E8C, *range(0x0E8E, 0x0E94), 0x0E98, 0x0EA0, 0x0EA8, 0x0EA9),
        "Lao letters for Pali (Unicode 12.0)",
    ),
    0x0EAC: "Lao letter Pali lla (Unicode 12.0)",
    0x0EBA: "Lao sign Pali virama (Unicode 12.0)",
}


def _name_characters(blocks: tuple[tuple[int, int], ...]) -> list[str]:
    return [
        ch
        for first, last in blocks
        for code in range(first, last + 1)
        if unicodedata.category(ch := chr(code))[0] in "LMN"
        and not is_forbidden(ch)
        and code not in GAPS
    ]


@pytest.mark.parametrize("style", ["regular", "bold"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_every_letter_of_each_printed_script_has_a_glyph(script: str, style: str) -> None:
    missing = [
        f"U+{ord(ch):04X}"
        for ch in _name_characters(SCRIPTS[script])
        if _fonts.font_for(ch, style) is None  # type: ignore[arg-type]
    ]
    assert missing == [], f"{script} ({style}): no glyph for {', '.join(missing[:20])}"


def test_malayalam_names_print() -> None:
    assert unsupported_characters("അരുൺ നായർ") == ""
    assert unsupported_characters("അന്\u200dവർ") == ""


def test_a_script_without_a_font_is_reported() -> None:
    # Cherokee, Tibetan and Ogham: no shipped font, so the counter refuses such a name.
    assert unsupported_characters("Ꮎ Ꮳ") == "ᎾᏣ"
    assert unsupported_characters("བཀྲ་ཤིས") != ""
    assert unsupported_characters("A\u1680B") == "\u1680"  # the Ogham space mark


def test_every_other_space_a_name_may_hold_has_a_glyph() -> None:
    spaces = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"]
    assert unsupported_characters("".join(spaces)) == "\u1680"
    assert unsupported_characters("山田\u3000太郎 Amina\u00a0Diallo") == ""
