"""Geometry and drawing of the two faces of the card and of the A4 sheet.

Everything is drawn relative to the card's trim box (CR80, ISO/IEC 7810 ID-1: 85.60 x 53.98 mm),
origin at its lower left corner; backgrounds extend ``BLEED`` past it so a card printer or a
guillotine that cuts a little off still leaves no white edge. What is the same on every card
(the colour bands, the multilingual notice on the back) is drawn once per PDF as a form XObject
and placed on each card, so a 10,000-card batch carries it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from reportlab.lib.colors import Color, HexColor, white
from reportlab.pdfgen.canvas import Canvas

from . import _qr, _text
from ._pdfstream import StreamingPdf

if TYPE_CHECKING:
    from ._render import PrintableCard

MM = 72.0 / 25.4
CARD_W = 85.60 * MM
CARD_H = 53.98 * MM
BLEED = 2.0 * MM
A4 = (210.0 * MM, 297.0 * MM)

# A4 sheet: faces side by side, cut marks in the gaps (see cut_marks()).
MARK_OFFSET = 2.5 * MM  # just past the bleed
MARK_LENGTH = 3.5 * MM
GAP = 2 * (MARK_OFFSET + MARK_LENGTH)
SHEET_ROWS = 4
_SHEET_X0 = (A4[0] - 2 * CARD_W - GAP) / 2
_SHEET_TOP = A4[1] - 24.0 * MM

BAND = HexColor("#1F4E79")
INK = HexColor("#16191D")
LABEL = HexColor("#58626E")
PLACEHOLDER = HexColor("#E3E7EC")
SILHOUETTE = HexColor("#A7B1BC")

# Field labels: bilingual, short, the same on every card. Dates are printed in ISO 8601
# (YYYY-MM-DD), which reads the same in every language.
LABELS = {
    "name": "Nom · Name",
    "birth": "Naissance · Birth",
    "gender": "Genre · Gender",
    "number": "N° de carte · Card no.",
    "expires": "Expire le · Expires",
}
SHEET_CAPTION = (
    "Découper suivant les repères et plastifier les deux faces dos à dos · "
    "Cut along the marks and laminate the two faces back to back"
)

# The back's notice: the card is issued to residents and says nothing about immigration status.
NOTICE: tuple[tuple[str, str], ...] = (
    (
        "fr",
        "Carte délivrée par la ville à ses habitantes et habitants. "
        "Elle n'indique rien sur la situation migratoire de la personne.",
    ),
    (
        "en",
        "Issued by the city to its residents. "
        "This card says nothing about the holder's immigration status.",
    ),
    (
        "es",
        "Expedida por la ciudad a sus residentes. "
        "No indica nada sobre la situación migratoria de su titular.",
    ),
    (
        "pt",
        "Emitido pela cidade aos seus residentes. "
        "Não indica nada sobre a situação migratória do titular.",
    ),
    (
        "ar",
        "تصدر المدينة هذه البطاقة لجميع سكانها، "
        "وهي لا تدل على أي شيء بشأن وضع حاملها من حيث الهجرة.",
    ),
)

# Front layout, in points from the trim origin.
_BAND_H = 11.5 * MM
_PAD = 4.0 * MM
_PHOTO = (4.0 * MM, 8.0 * MM, 23.0 * MM, 30.67 * MM)  # x, y, w, h: 3:4, a passport-like crop
_COL_A = 30.5 * MM
_COL_B = 60.0 * MM
_RIGHT = CARD_W - _PAD
# Back layout. The code is as large as the back's height allows with the number printed under
# it: a phone reads a larger code from further away and through more blur (bench_capture.py,
# docs/performance.md: at the same distance, blur and dim light, the old 26 mm code read in 0 of
# 20 shots, this one in 20, or 18 for the longest names). Four modules of the smallest code a
# card has (version 8, 49 modules: 2.8 mm) stay white around it: 4 mm to the left edge, 3.5 mm
# to the top band, 3.5 mm to the number's letters and to the notice.
QR_SIZE = 34.0 * MM
_QR_X = 4.0 * MM
_QR_Y = 12.5 * MM
_NOTICE_X = _QR_X + QR_SIZE + 3.5 * MM
_TOP_BAND_H = 4.0 * MM

_FRONT_FORM = "citycard-front-v2"
_BACK_FORM = "citycard-back-v2"


@dataclass(frozen=True, slots=True)
class Face:
    """What the card's faces show: the public PrintableCard, with its photo's size and its QR
    symbol, both checked and encoded already."""

    card: PrintableCard
    photo_info: tuple[int, int, int]  # width, height, components; zeros without photo
    qr_rows: tuple[str, ...]


def _ensure_forms(pdf: StreamingPdf, defined: set[str]) -> None:
    """Define the shared artwork once per PDF (before the first page's content)."""
    canvas = pdf.canvas
    for form, artwork in ((_FRONT_FORM, _front_artwork), (_BACK_FORM, _back_artwork)):
        if form in defined:
            continue
        # types-reportlab says int for the bounding box; PDF and reportlab take any number.
        canvas.beginForm(form, -BLEED, -BLEED, CARD_W + BLEED, CARD_H + BLEED)  # type: ignore[arg-type]
        artwork(canvas)
        canvas.endForm()
        defined.add(form)


@contextmanager
def _face(
    pdf: StreamingPdf, form: str, x0: float, y0: float, defined: set[str]
) -> Iterator[Canvas]:
    """The canvas with its origin at a face's trim box corner (x0, y0) and the face's shared
    artwork (`form`) drawn; the graphics state is restored after."""
    _ensure_forms(pdf, defined)
    canvas = pdf.canvas
    canvas.saveState()
    try:
        canvas.translate(x0, y0)
        canvas.doForm(form)
        yield canvas
    finally:
        canvas.restoreState()


def _front_artwork(canvas: Canvas) -> None:
    # One band, which carries the city, the card's title and the issuer code. (The thin strip
    # at the foot of both faces, which carried nothing, is gone: the space goes to the fields.)
    canvas.setFillColor(BAND)
    canvas.rect(-BLEED, CARD_H - _BAND_H, CARD_W + 2 * BLEED, _BAND_H + BLEED, stroke=0, fill=1)


def _back_artwork(canvas: Canvas) -> None:
    # The top band carries the card's title (draw_back), so the back too says what it is.
    canvas.setFillColor(BAND)
    canvas.rect(
        -BLEED, CARD_H - _TOP_BAND_H, CARD_W + 2 * BLEED, _TOP_BAND_H + BLEED, stroke=0, fill=1
    )
    canvas.setFillColor(INK)
    width = _RIGHT - _NOTICE_X
    top = CARD_H - _TOP_BAND_H - 2.5 * MM
    height = top - 4.0 * MM
    size, blocks = _notice_layout(width, height)
    y = top
    for lang, lines in blocks:
        block = _text.Block(size=size, lines=lines, leading=1.22)
        x = _RIGHT if lang == "ar" else _NOTICE_X
        last = _text.draw_block(canvas, block, x, y, align="right" if lang == "ar" else "left")
        y = last - size * 0.3 - size * 0.45


def _notice_layout(
    width: float, height: float
) -> tuple[float, list[tuple[str, tuple[_text.Line, ...]]]]:
    """The largest size (5.2 pt down to 4 pt) at which the five paragraphs fit."""
    size = 5.2
    while True:
        blocks = []
        total = 0.0
        for lang, paragraph in NOTICE:
            base_rtl = lang == "ar"
            lines = tuple(_text.wrap(paragraph, "regular", width * 1000 / size, base_rtl))
            blocks.append((lang, lines))
            total += len(lines) * size * 1.22 + size * 0.45
        if total <= height or size <= 4.0:
            return size, blocks
        size -= 0.2


def _iso(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _label(canvas: Canvas, key: str, x: float, y: float) -> None:
    canvas.setFillColor(LABEL)
    _text.draw_line(canvas, _text.shape_line(LABELS[key], "regular"), x, y, 4.6)


def _personal_ink(canvas: Canvas) -> None:
    """Pure black, DeviceGray 0: what card printers' drivers print with the resin black panel
    (a near-black such as INK would be printed with the dye colour panels, which a solvent
    lifts). Used for everything that is the holder's own data."""
    canvas.setFillGray(0)


def _value(canvas: Canvas, text: str, x: float, y: float, width: float, size: float) -> None:
    _personal_ink(canvas)
    block = _text.fit(text, "bold", width=width, height=size * 1.2, max_size=size, min_size=5.0)
    _text.draw_line(canvas, block.lines[0], x, y, block.size)


def draw_front(pdf: StreamingPdf, face: Face, x0: float, y0: float, defined: set[str]) -> None:
    """Draw the front with the trim box's lower left corner at (x0, y0)."""
    card = face.card
    with _face(pdf, _FRONT_FORM, x0, y0, defined) as canvas:
        # Band: issuer code on the right, the city name in what is left.
        canvas.setFillColor(white)
        code_w = 0.0
        if card.issuer_code:
            code = _text.shape_line(card.issuer_code, "bold")
            code_w = code.width(7.0)
            _text.draw_line(canvas, code, _RIGHT, CARD_H - 7.0 * MM, 7.0, align="right")
        city_w = _RIGHT - _PAD - (code_w + 3 * MM if code_w else 0.0)
        # The city's name, and under it what the card is: two short lines in the band.
        title_size = 0.0
        title_lines: tuple[_text.Line, ...] = ()
        if card.card_title:
            title = _text.fit(
                card.card_title,
                "regular",
                width=city_w,
                height=3.2 * MM,
                max_size=6.5,
                min_size=4.6,
            )
            title_size, title_lines = title.size, title.lines[:1]
        city_h = 8.5 * MM - (title_size * 1.25 if title_lines else 0.0)
        city = _text.fit(
            card.city_name, "bold", width=city_w, height=city_h, max_size=12.0, min_size=6.0
        )
        block_h = city.size * (0.72 + (len(city.lines) - 1) * city.leading)
        if title_lines:
            block_h += title_size * 1.25
        band_mid = CARD_H - _BAND_H / 2
        top = band_mid + block_h / 2 + city.size * 0.2
        last = _text.draw_block(canvas, city, _PAD, top, align="left")
        if title_lines:
            _text.draw_line(canvas, title_lines[0], _PAD, last - title_size * 1.25, title_size)

        _draw_photo(pdf, card.photo, face.photo_info)

        # Name, one to four lines in its box (fit_holder_name).
        _label(canvas, "name", _COL_A, 37.4 * MM)
        _personal_ink(canvas)
        name = fit_holder_name(card.holder_name)
        # A right-to-left name on several lines is set flush right, so both lines start on the
        # same edge; on one line it starts under the label like every other field.
        if len(name.lines) > 1 and name.lines[0].rtl:
            _text.draw_block(canvas, name, _RIGHT, 36.4 * MM, align="right")
        else:
            _text.draw_block(canvas, name, _COL_A, 36.4 * MM, align="left")

        # Birth date and gender marker (each only when there is one), then number and expiry.
        row1: list[tuple[str, str]] = []
        if card.birth_date is not None:
            row1.append(("birth", _iso(card.birth_date)))
        if card.gender_marker:
            row1.append(("gender", card.gender_marker))
        for (key, value), x in zip(row1, (_COL_A, _COL_B), strict=False):
            _label(canvas, key, x, 24.4 * MM)
            _value(canvas, value, x, 20.9 * MM, _COL_B - _COL_A - 2 * MM, 9.0)
        _label(canvas, "number", _COL_A, 14.6 * MM)
        _value(canvas, card.number, _COL_A, 11.0 * MM, _COL_B - _COL_A - 2 * MM, 10.0)
        _label(canvas, "expires", _COL_B, 14.6 * MM)
        _value(canvas, _iso(card.expires), _COL_B, 11.0 * MM, _RIGHT - _COL_B, 9.0)


def _draw_photo(pdf: StreamingPdf, photo: bytes | None, info: tuple[int, int, int]) -> None:
    canvas = pdf.canvas
    x, y, w, h = _PHOTO
    canvas.saveState()
    clip = canvas.beginPath()
    clip.roundRect(x, y, w, h, 1.2 * MM)
    canvas.clipPath(clip, stroke=0, fill=0)
    if photo is None:
        # A neutral silhouette: says "no photo" without suggesting anyone.
        canvas.setFillColor(PLACEHOLDER)
        canvas.rect(x, y, w, h, stroke=0, fill=1)
        canvas.setFillColor(SILHOUETTE)
        canvas.circle(x + w / 2, y + h * 0.62, w * 0.2, stroke=0, fill=1)
        canvas.ellipse(x + w * 0.12, y - h * 0.3, x + w * 0.88, y + h * 0.38, stroke=0, fill=1)
    else:
        iw, ih, _ = info
        # Cover the box (crop the overflow, centred) rather than letterbox it.
        scale = max(w / iw, h / ih)
        dw, dh = iw * scale, ih * scale
        pdf.draw_jpeg(photo, info, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)
    canvas.restoreState()


def draw_back(pdf: StreamingPdf, face: Face, x0: float, y0: float, defined: set[str]) -> None:
    """Draw the back with the trim box's lower left corner at (x0, y0)."""
    card = face.card
    with _face(pdf, _BACK_FORM, x0, y0, defined) as canvas:
        if card.card_title:
            canvas.setFillColor(white)
            title = _text.fit(
                card.card_title,
                "bold",
                width=CARD_W - 2 * _PAD,
                height=_TOP_BAND_H,
                max_size=6.0,
                min_size=4.6,
            )
            _text.draw_line(
                canvas,
                title.lines[0],
                CARD_W / 2,
                CARD_H - _TOP_BAND_H + 1.3 * MM,
                title.size,
                align="center",
            )
        _qr.draw(canvas, face.qr_rows, _QR_X, _QR_Y, QR_SIZE)
        _personal_ink(canvas)
        caption = f"{card.issuer_code}  {card.number}" if card.issuer_code else card.number
        line = _text.shape_line(caption, "bold")
        _text.draw_line(canvas, line, _QR_X + QR_SIZE / 2, 7.2 * MM, 7.0, align="center")


def cut_marks(canvas: Canvas, x: float, y: float) -> None:
    """Crop marks around a card whose trim box starts at (x, y), outside its bleed."""
    o, n = MARK_OFFSET, MARK_LENGTH
    canvas.saveState()
    canvas.setStrokeColor(Color(0, 0, 0))
    canvas.setLineWidth(0.25)
    lines = []
    for yy in (y, y + CARD_H):
        lines.append((x - o - n, yy, x - o, yy))
        lines.append((x + CARD_W + o, yy, x + CARD_W + o + n, yy))
    for xx in (x, x + CARD_W):
        lines.append((xx, y - o - n, xx, y - o))
        lines.append((xx, y + CARD_H + o, xx, y + CARD_H + o + n))
    canvas.lines(lines)
    canvas.restoreState()


def sheet_slot(index: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the front and back of the ``index``-th card of an A4 sheet go (trim origins)."""
    y = _SHEET_TOP - (index + 1) * CARD_H - index * GAP
    return (_SHEET_X0, y), (_SHEET_X0 + CARD_W + GAP, y)


def sheet_caption(canvas: Canvas) -> None:
    canvas.setFillColor(LABEL)
    line = _text.shape_line(SHEET_CAPTION, "regular")
    size = min(7.0, (A4[0] - 2 * _SHEET_X0) * 1000 / line.units)
    _text.draw_line(canvas, line, A4[0] / 2, A4[1] - 14.0 * MM, size, align="center")


def fit_holder_name(name: str) -> _text.Block:
    """The holder's name in its box on the front: one line, shrinking from 12 pt; then two,
    three or four lines, shrinking down to 5 pt (a little above the labels' 4.6 pt). At 5 pt
    four lines hold about 116 em, more than 100 bytes of the widest character per byte that
    the fonts draw and the card format allows ("m", 0.98 em in the bold cut; the format refuses
    the Arabic word ligatures, U+FDFD being 7.9 em), so every name the format accepts prints
    whole (tests/integration/printing/test_names.py checks the widest of every font). Lines
    are placed by their glyphs' real ink (``ink=True``): the four combining marks in a row
    that the format allows, stacked on a letter, push the line down or the size down rather
    than climbing into the label. The counter still refuses a name that comes out ``cut``, so
    a card never prints less than the name signed. The box's height does not change."""
    return _text.fit(
        name,
        "bold",
        width=_RIGHT - _COL_A,
        height=9.5 * MM,
        max_size=12.0,
        min_size=5.0,
        max_lines=4,
        # Two lines at 8 pt read better at a glance than one line at 6.5 pt.
        min_single_line=8.0,
        # Marks stacked on a letter (up to four, section 3.2) must not climb into the label.
        ink=True,
    )
