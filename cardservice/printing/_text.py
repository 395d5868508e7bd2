"""Multi-script text: font fallback, bidi reordering, HarfBuzz shaping, fitting and drawing.

A line of text goes through four steps:

1. **Font runs.** Each character goes to the first font of the chain (``_fonts``) that covers
   it; neutral characters (spaces, punctuation, digits, combining marks, joiners) stay with the
   run they sit in when that font covers them, so "Nuñez-Ali" is one run and a space between two
   Arabic words does not break the Arabic run (which would break the joining).
2. **Bidi levels.** The Unicode Bidirectional Algorithm (python-bidi's reference implementation,
   rules P2-P3 and W1-I2) gives every character its embedding level; runs are split where the
   level changes.
3. **Shaping.** Each run is shaped by HarfBuzz through reportlab's own ``shapeStr`` (reportlab
   4+ drives uharfbuzz and knows how to place the resulting glyphs, including those without a
   code point, like Arabic contextual forms). HarfBuzz returns an RTL run already in visual order.
4. **Reordering.** Runs are put in visual order with rule L2 (reverse every maximal sequence at
   level >= k, for k from the highest level down to the lowest odd level).

Widths are kept in 1/1000 em so one shaping serves every font size. Shaped lines are cached
because a batch prints the same labels and city name thousands of times; the cache is a bounded
LRU because it also sees every card's own name and number.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bidi.algorithm import (
    explicit_embed_and_overrides,
    get_base_level,
    get_embedding_levels,
    get_empty_storage,
    resolve_implicit_levels,
    resolve_neutral_types,
    resolve_weak_types,
)
from bidi.mirror import MIRRORED
from reportlab.lib.abag import ABag
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapedStr, shapeFragWord
from reportlab.pdfgen.canvas import Canvas

from . import _fonts, _ink
from ._fonts import LoadedFont, Style

Align = Literal["left", "right", "center", "start"]

# Categories that do not decide a font by themselves (see step 1 above).
_NEUTRAL_CATEGORIES = frozenset({"Zs", "Po", "Pd", "Ps", "Pe", "Pi", "Pf", "Pc", "Nd", "Mn", "Mc"})
_NEUTRAL_CATEGORIES |= {"Me", "Cf", "Sm", "Sc", "Sk", "So"}
_STRONG_RTL = frozenset({"R", "AL"})
ELLIPSIS = "\u2026"
_JOINERS = frozenset("\u200c\u200d")
# reportlab's default feature set adds "dlig", which turns the letters of the name Muhammad into
# the single honorific ligature U+FDF4: right in a religious text, wrong on an identity card.
_FEATURES = {"kern": True, "liga": True, "dlig": False}
_shaping_lock = threading.Lock()
_CAP_TOP = _ink.CAP_TOP


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of one font, ready to draw: ``text`` is in visual order (maybe a ShapedStr)."""

    text: str
    font: str
    units: float  # advance width in 1/1000 em


@dataclass(frozen=True, slots=True)
class Line:
    """One shaped line: its runs in visual order and the paragraph direction."""

    source: str
    runs: tuple[Run, ...]
    units: float
    rtl: bool
    # The ink's reach above (positive) and below (negative) the baseline, in 1/1000 em: the
    # glyphs' real bounding boxes where they were placed (``_ink``).
    ink_top: float = 0.0
    ink_bottom: float = 0.0

    def width(self, size: float) -> float:
        return self.units * size / 1000.0


@dataclass(frozen=True, slots=True)
class Block:
    """Text fitted into a box: the font size chosen and its lines (one or more)."""

    size: float
    lines: tuple[Line, ...]
    leading: float
    cut: bool = False  # the text did not fit whole: its last line ends with an ellipsis
    # Each line's baseline below the block's top, in em; None for the fixed spacing (the first
    # baseline 0.92 em down, then one ``leading`` apart).
    baselines: tuple[float, ...] | None = None

    def baseline(self, i: int) -> float:
        if self.baselines is not None:
            return self.baselines[i]
        return _CAP_TOP + i * self.leading


def _is_neutral(ch: str) -> bool:
    return unicodedata.category(ch) in _NEUTRAL_CATEGORIES


def _font_runs(text: str, style: Style) -> list[LoadedFont]:
    """The font of every character of ``text`` (step 1)."""
    fonts: list[LoadedFont | None] = []
    for ch in text:
        prev = fonts[-1] if fonts else None
        if prev is not None and _is_neutral(ch) and ord(ch) in prev.cmap:
            fonts.append(prev)
        elif prev is not None and ch in _JOINERS:
            # A joiner belongs to the letters it joins: HarfBuzz consumes it within their run
            # even when the font has no glyph for it.
            fonts.append(prev)
        else:
            fonts.append(_fonts.font_for(ch, style))
    # Characters no font covers: join a neighbour's run (format characters such as ZWJ are
    # consumed by HarfBuzz even without a glyph), else the primary font, whose .notdef box at
    # least shows that something is there.
    resolved: list[LoadedFont] = []
    for i, font in enumerate(fonts):
        if font is None:
            neighbour = resolved[-1] if resolved else next((f for f in fonts[i:] if f), None)
            font = neighbour or _fonts.primary(style)
        resolved.append(font)
    # Leading neutrals take the font of what follows them when it covers them.
    first_strong = next((i for i, ch in enumerate(text) if not _is_neutral(ch)), None)
    if first_strong:
        follow = resolved[first_strong]
        for i in range(first_strong):
            if ord(text[i]) in follow.cmap:
                resolved[i] = follow
    return resolved


def _levels(text: str, base_rtl: bool | None) -> tuple[bool, list[int]]:
    """Resolved bidi embedding levels (rules P2-I2) and the paragraph direction."""
    storage = get_empty_storage()
    base = get_base_level(text, False) if base_rtl is None else int(base_rtl)
    storage["base_level"] = base
    storage["base_dir"] = ("L", "R")[base]
    get_embedding_levels(text, storage)
    every = list(storage["chars"])
    explicit_embed_and_overrides(storage, False)
    # Rule X9 drops the boundary neutrals (ZWNJ, ZWJ, ...) and explicit formatting characters
    # from the list; give each the level of the character before it (UAX #9 section 5.2, or the
    # paragraph level at the start), so that a joiner stays in its neighbour's run and reaches
    # HarfBuzz with the letters it joins.
    kept = {id(c) for c in storage["chars"]}
    resolve_weak_types(storage, False)
    resolve_neutral_types(storage, False)
    resolve_implicit_levels(storage, False)
    levels: list[int] = []
    for c in every:
        levels.append(c["level"] if id(c) in kept else (levels[-1] if levels else base))
    return bool(base), levels


def _shape(text: str, font: str, rtl: bool) -> Run:
    if rtl and not any(unicodedata.bidirectional(ch) in _STRONG_RTL for ch in text):
        # A right-to-left run of neutrals only (say brackets between Arabic and Latin): HarfBuzz
        # would guess left-to-right, so put it in visual order and mirror it ourselves.
        text = "".join(MIRRORED.get(ch, ch) for ch in reversed(text))
    width = pdfmetrics.stringWidth(text, font, 1000)
    with _shaping_lock:
        # reportlab gives glyphs that have no code point (contextual forms, ligatures) private
        # code points, allocated from a counter on the font: not safe to run concurrently.
        word = shapeFragWord([width, (ABag(fontName=font, fontSize=1000), text)], _FEATURES)
    shaped = word[1][1]
    units: float
    if isinstance(shaped, ShapedStr):
        # The glyph data reportlab attaches to a shaped string; types-reportlab omits it.
        units = sum(sd.x_advance for sd in shaped.__shapeData__)  # type: ignore[attr-defined]
    else:
        units = pdfmetrics.stringWidth(shaped, font, 1000)
    return Run(text=shaped, font=font, units=float(units))


def _reorder(runs: list[tuple[int, Run]]) -> list[Run]:
    """Rule L2 on whole runs (each run is already in visual order inside)."""
    if not runs:
        return []
    items = list(runs)
    highest = max(level for level, _ in items)
    lowest_odd = min((level for level, _ in items if level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(items):
            if items[i][0] >= level:
                j = i
                while j < len(items) and items[j][0] >= level:
                    j += 1
                items[i:j] = items[i:j][::-1]
                i = j
            else:
                i += 1
    return [run for _, run in items]


@functools.lru_cache(maxsize=2048)
def shape_line(text: str, style: Style, base_rtl: bool | None = None) -> Line:
    """Shape one line of ``text`` (no line breaks) into runs in visual order."""
    if not text:
        return Line(source=text, runs=(), units=0.0, rtl=bool(base_rtl))
    fonts = _font_runs(text, style)
    rtl, levels = _levels(text, base_rtl)
    pieces: list[tuple[int, Run]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or fonts[i] is not fonts[start] or levels[i] != levels[start]:
            level = levels[start]
            pieces.append((level, _shape(text[start:i], fonts[start].name, bool(level % 2))))
            start = i
    runs = tuple(_reorder(pieces))
    extents = [_ink.run_extents(r.text, r.font) for r in runs]
    return Line(
        source=text,
        runs=runs,
        units=sum(r.units for r in runs),
        rtl=rtl,
        ink_top=max(top for top, _ in extents),
        ink_bottom=min(bottom for _, bottom in extents),
    )


def unsupported_characters(text: str, style: Style = "regular") -> str:
    """The characters of ``text`` that no shipped font can draw (they would print as boxes)."""
    missing = []
    for ch in text:
        # Format characters (the joiners) draw nothing; every space is checked like a letter,
        # since one (U+1680, Ogham) is in no shipped font and would print as a box.
        if unicodedata.category(ch) == "Cf":
            continue
        if _fonts.font_for(ch, style) is None and ch not in missing:
            missing.append(ch)
    return "".join(missing)


def _split_word(word: str, style: Style, max_units: float, base_rtl: bool) -> list[str]:
    """Cut a too-wide word into pieces, never inside a grapheme: a mark that pushes its piece
    over takes its letter along (apart from its letter, HarfBuzz may give it a dotted circle)."""
    pieces, current, letter = [], "", 0  # ``letter``: where the last grapheme starts
    for ch in word:
        attached = unicodedata.category(ch).startswith("M") or ch in "\u200c\u200d"
        if current and shape_line(current + ch, style, base_rtl).units > max_units:
            cut = letter if attached else len(current)
            if cut > 0:
                pieces.append(current[:cut])
                current, letter = current[cut:], 0
        if not attached:
            letter = len(current)
        current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap(
    text: str,
    style: Style,
    max_units: float,
    base_rtl: bool | None = None,
    *,
    anywhere: bool = False,
) -> list[Line]:
    """Greedy line breaking at spaces; a word longer than a line (or CJK text without spaces)
    is broken between characters. ``max_units`` is the line width in 1/1000 em. With
    ``anywhere``, lines are filled to the edge and broken between any two characters (never
    inside a letter's marks), a space at a break dropped: the densest packing, for text that
    does not fit otherwise."""
    rtl = shape_line(text, style, base_rtl).rtl if base_rtl is None else base_rtl
    if anywhere:
        pieces = (p.strip(" ") for p in _split_word(text, style, max_units, rtl))
        return [shape_line(piece, style, rtl) for piece in pieces if piece]
    words: list[str] = []
    for word in filter(None, text.split(" ")):
        if shape_line(word, style, rtl).units > max_units:
            words.extend(_split_word(word, style, max_units, rtl))
        else:
            words.append(word)
    lines: list[Line] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and shape_line(candidate, style, rtl).units > max_units:
            lines.append(shape_line(current, style, rtl))
            current = word
        else:
            current = candidate
    if current:
        lines.append(shape_line(current, style, rtl))
    return lines


def _ellipsize(line: Line, style: Style, max_units: float) -> Line:
    text = line.source
    while text:
        text = text[:-1].rstrip()
        candidate = shape_line(text + ELLIPSIS, style, line.rtl)
        if candidate.units <= max_units:
            return candidate
    return shape_line(ELLIPSIS, style, line.rtl)


def fit(
    text: str,
    style: Style,
    *,
    width: float,
    height: float,
    max_size: float,
    min_size: float,
    max_lines: int = 2,
    leading: float = 1.15,
    step: float = 0.25,
    min_single_line: float | None = None,
    ink: bool = False,
) -> Block:
    """Fit ``text`` in a ``width`` x ``height`` box (points): the largest size from ``max_size``
    down to ``min_single_line`` (default ``min_size``) on one line; failing that, the largest
    size down to ``min_size`` that wraps into at most ``max_lines`` lines that the box's height
    holds (so a third line only comes once the size is small enough for three to fit); failing
    that, the same with lines filled and broken between any two characters; failing that,
    ``min_size`` with the last line cut short with an ellipsis. The result never
    overflows its width; with ``ink``, the glyphs' real extents (stacked marks included) also
    stay within its height, lines placed by ``_ink.baselines``."""

    def block(size: float, lines: Sequence[Line], cut: bool = False) -> Block:
        baselines = _ink.baselines(lines, leading)[0] if ink else None
        return Block(size, tuple(lines), leading, cut=cut, baselines=baselines)

    def depth(lines: Sequence[Line]) -> float:
        return _ink.baselines(lines, leading)[1] if ink else 0.0

    one = shape_line(text, style)
    size = max_size
    if one.units > 0:
        size = min(max_size, width * 1000.0 / one.units)
    size = min(size, height / max(leading, depth([one])))
    if size >= (min_size if min_single_line is None else max(min_size, min_single_line)):
        return block(size, [one])
    # Break at spaces first; only when no size down to min_size fits that way (a name of many
    # words each a little over half a line), fill the lines and break between characters.
    lines: list[Line] = []
    for anywhere in (False, True):
        size = min(max_size, height / (min(2, max_lines) * leading))
        while True:
            lines = wrap(text, style, width * 1000.0 / size, one.rtl, anywhere=anywhere)
            if (
                len(lines) <= max_lines
                and len(lines) * leading * size <= height
                and depth(lines) * size <= height
            ):
                return block(size, lines)
            if size <= min_size:
                break
            # The steps rarely land on min_size itself: try it last, exactly.
            size = max(min_size, size - step)
    size = min_size
    lines = lines[:max_lines]
    lines[-1] = _ellipsize(lines[-1], style, width * 1000.0 / size)
    return block(size, lines, cut=True)


def draw_line(
    canvas: Canvas, line: Line, x: float, y: float, size: float, *, align: Align = "left"
) -> None:
    """Draw ``line`` with its baseline at ``y``. ``x`` is the left edge, the right edge or the
    centre according to ``align``; "start" means left for LTR paragraphs and right for RTL."""
    if align == "start":
        align = "right" if line.rtl else "left"
    width = line.width(size)
    if align == "right":
        x -= width
    elif align == "center":
        x -= width / 2
    for run in line.runs:
        canvas.setFont(run.font, size)
        canvas.drawString(x, y, run.text)
        x += run.units * size / 1000.0


def draw_block(
    canvas: Canvas, block: Block, x: float, top: float, *, align: Align = "left"
) -> float:
    """Draw ``block`` from ``top`` downwards; returns the baseline of its last line."""
    y = top
    for i, line in enumerate(block.lines):
        y = top - block.size * block.baseline(i)
        draw_line(canvas, line, x, y, block.size, align=align)
    return y
