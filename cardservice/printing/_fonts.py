"""The fonts the card is printed with, shipped in ``fonts/`` beside this module.

reportlab embeds TrueType-outline fonts only (not the CFF-flavoured OpenType of Noto Sans CJK),
so every file here is a ``glyf`` TrueType font under the SIL OFL 1.1 (Noto; Nanum Gothic, for
Hangul) or Apache 2.0 (Droid Sans Fallback, for Han and kana). reportlab subsets each font on
embedding, so a card carries only the glyphs it uses.

No font can cover every script, so text is drawn with a *chain*: each character goes to the first
font of the chain that has a glyph for it (see ``_text``). Fonts are registered with reportlab
once per process, lazily, because loading the 4 MB CJK font costs a tenth of a second that a
Latin-only card does not need to pay.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).with_name("fonts")

Style = Literal["regular", "bold"]

# Order matters: the first font that covers a character wins. Noto Sans first (Latin, Greek,
# Cyrillic and the common punctuation), then the scripts residents' names are most often written
# in, the big CJK fonts last because they also cover Latin in a different design. Droid Sans
# Fallback has Han and kana but no Hangul syllables; Nanum Gothic has all 11,172 of them.
_REGULAR: tuple[str, ...] = (
    "NotoSans-Regular.ttf",
    "NotoSansArabic-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    "NotoSansArmenian-Regular.ttf",
    "NotoSansGeorgian-Regular.ttf",
    "NotoSansEthiopic-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf",
    "NotoSansBengali-Regular.ttf",
    "NotoSansTamil-Regular.ttf",
    "NotoSansMalayalam-Regular.ttf",
    "NotoSansGujarati-Regular.ttf",
    "NotoSansGurmukhi-Regular.ttf",
    "NotoSansTelugu-Regular.ttf",
    "NotoSansKannada-Regular.ttf",
    "NotoSansOriya-Regular.ttf",
    "NotoSansSinhala-Regular.ttf",
    "NotoSansThai-Regular.ttf",
    "NotoSansLao-Regular.ttf",
    "NotoSansKhmer-Regular.ttf",
    "NotoSansMyanmar-Regular.ttf",
    "DroidSansFallbackFull.ttf",
    "NanumGothic.ttf",
)
# Bold where a bold cut ships; the other scripts fall back to their regular cut.
_BOLD_CUTS = frozenset(
    {
        "NotoSans-Bold.ttf",
        "NotoSansArabic-Bold.ttf",
        "NotoSansHebrew-Bold.ttf",
        "NotoSansMalayalam-Bold.ttf",
    }
)
_BOLD: tuple[str, ...] = tuple(
    bold if (bold := file.replace("-Regular.", "-Bold.")) in _BOLD_CUTS else file
    for file in _REGULAR
)
CHAINS: dict[Style, tuple[str, ...]] = {"regular": _REGULAR, "bold": _BOLD}

_lock = threading.Lock()
_loaded: dict[str, LoadedFont] = {}


@dataclass(frozen=True)
class LoadedFont:
    """A font registered with reportlab under ``name``, with the set of code points it covers."""

    name: str
    file: str
    cmap: frozenset[int]


def _registered_name(file: str) -> str:
    # A prefix of our own so we never collide with fonts another part of the process registers.
    return "CityCard-" + file.removesuffix(".ttf")


def load(file: str) -> LoadedFont:
    """Register ``file`` with reportlab (once per process) and return it."""
    font = _loaded.get(file)
    if font is not None:
        return font
    with _lock:
        font = _loaded.get(file)
        if font is None:
            name = _registered_name(file)
            tt = TTFont(name, str(FONT_DIR / file))
            pdfmetrics.registerFont(tt)
            font = LoadedFont(name=name, file=file, cmap=frozenset(tt.face.charToGlyph))
            _loaded[file] = font
    return font


def font_for(ch: str, style: Style) -> LoadedFont | None:
    """The first font of the chain for ``style`` that has a glyph for ``ch``, or None."""
    cp = ord(ch)
    for file in CHAINS[style]:
        font = load(file)
        if cp in font.cmap:
            return font
    return None


def primary(style: Style) -> LoadedFont:
    return load(CHAINS[style][0])


def preload() -> None:
    """Load every shipped font now rather than on the first card that needs it (about 0.5 s,
    mostly the two CJK fonts): for a server, so that no request pays for it."""
    for style in CHAINS:
        for file in CHAINS[style]:
            load(file)
