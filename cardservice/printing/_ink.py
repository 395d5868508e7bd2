"""How far a shaped line's ink really reaches above and below its baseline.

A line's advance width says nothing about its height: a letter carrying a stack of combining
marks (docs/card-format.md section 3.2 allows four in a row) rises well above the font's
ascender, and the layout must know it to keep the name inside its box. The extents come from
the glyphs HarfBuzz actually placed: each glyph's bounding box (``hb_font_get_glyph_extents``,
through uharfbuzz, which reportlab already uses for shaping) moved by the glyph's vertical
offset from the shaping (mark-to-base and mark-to-mark attachment).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import uharfbuzz as hb
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapedStr

from ._fonts import FONT_DIR

# The first baseline of a block sits this far below its top, in em: room for capitals and
# accents. Ink that reaches higher (stacked marks) moves the line down (see ``baselines``).
CAP_TOP = 0.92
INK_GAP = 0.05  # em kept free between the ink of two lines

_lock = threading.Lock()
_fonts: dict[str, tuple[hb.Font, float]] = {}


def _hb_font(registered: str) -> tuple[hb.Font, float]:
    """The HarfBuzz font of a font registered by ``_fonts``, and its scale to 1/1000 em."""
    found = _fonts.get(registered)
    if found is None:
        with _lock:
            found = _fonts.get(registered)
            if found is None:
                file = registered.removeprefix("CityCard-") + ".ttf"
                face = hb.Face(hb.Blob.from_file_path(str(FONT_DIR / file)))
                found = (hb.Font(face), 1000.0 / face.upem)
                _fonts[registered] = found
    return found


@lru_cache(maxsize=4096)
def _glyph_box(registered: str, gid: int) -> tuple[float, float]:
    """Top and bottom of glyph ``gid``'s ink, in 1/1000 em above the baseline."""
    font, scale = _hb_font(registered)
    extents = font.get_glyph_extents(gid)
    if extents is None or extents.height == 0:
        return 0.0, 0.0  # a space or an empty glyph: no ink
    top = extents.y_bearing * scale
    return top, top + extents.height * scale  # height is negative: y grows upwards


def run_extents(text: str, registered: str) -> tuple[float, float]:
    """The highest and lowest ink of one drawn run (``_text.Run``), in 1/1000 em."""
    face = pdfmetrics.getFont(registered).face  # type: ignore[attr-defined]
    to_glyph = face.charToGlyph
    offsets = (
        [sd.y_offset for sd in text.__shapeData__]  # type: ignore[attr-defined]
        if isinstance(text, ShapedStr)
        else [0.0] * len(text)
    )
    top, bottom = 0.0, 0.0
    for ch, y_offset in zip(text, offsets, strict=False):
        glyph_top, glyph_bottom = _glyph_box(registered, to_glyph.get(ord(ch), 0))
        if glyph_top == glyph_bottom:
            continue
        top = max(top, glyph_top + y_offset)
        bottom = min(bottom, glyph_bottom + y_offset)
    return top, bottom


class Inked(Protocol):
    """A shaped line's ink reach (``_text.Line``), in 1/1000 em above and below its baseline."""

    @property
    def ink_top(self) -> float: ...
    @property
    def ink_bottom(self) -> float: ...


def baselines(lines: Sequence[Inked], leading: float) -> tuple[tuple[float, ...], float]:
    """Baselines (em below the block's top) that keep every line's real ink inside the block
    and off its neighbours', and the block's ink depth: the first baseline ``CAP_TOP`` down,
    or lower when the line's ink rises higher; each next one ``leading`` further, or more when
    marks below one line and marks above the next would otherwise meet."""
    baselines: list[float] = []
    for i, line in enumerate(lines):
        rise = line.ink_top / 1000.0
        if i == 0:
            baselines.append(max(CAP_TOP, rise))
        else:
            depth_above = -lines[i - 1].ink_bottom / 1000.0
            baselines.append(baselines[-1] + max(leading, depth_above + rise + INK_GAP))
    depth = baselines[-1] - lines[-1].ink_bottom / 1000.0 if lines else 0.0
    return tuple(baselines), depth
