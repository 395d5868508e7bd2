"""PrintableCard, render_card_pdf and render_batch (documented in the package docstring)."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO, Literal

from . import _layout, _qr
from ._pdfstream import StreamingPdf, jpeg_info

Layout = Literal["card", "a4"]

_GENDER_MARKERS = frozenset({"F", "M", "X"})
# Explicit bidi embeddings, overrides and isolates: a name carrying one could reorder the text
# around it (cardformat.validate_holder_name refuses them too; refused again here because the
# renderer's bidi handling relies on their absence).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_MAX_TEXT = 200


class InvalidCardError(ValueError):
    """A PrintableCard field cannot be printed; the message says which and why."""


def _check_text(field: str, value: object, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidCardError(f"{field} must be a string")
    if required and not value.strip():
        raise InvalidCardError(f"{field} must not be empty")
    if len(value) > _MAX_TEXT:
        raise InvalidCardError(f"{field} is longer than {_MAX_TEXT} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value) or _BIDI_CONTROLS.search(value):
        raise InvalidCardError(f"{field} contains control or bidi-override characters")


def _check_date(field: str, value: object, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidCardError(f"{field} must be a date")


@dataclass(frozen=True, kw_only=True)
class PrintableCard:
    """What is printed on one card. Validated on construction (raises InvalidCardError)."""

    city_name: str
    holder_name: str
    birth_date: date | None
    gender_marker: str | None  # "F", "M", "X" or None (then nothing printed)
    number: str  # "XXXX-XXX"
    expires: date
    photo: bytes | None  # JPEG, already re-encoded by the app
    qr_text: str  # "MC1:..." in the QR alphanumeric set
    issuer_code: str = ""  # e.g. "FR SXB"

    def __post_init__(self) -> None:
        _check_text("city_name", self.city_name)
        _check_text("holder_name", self.holder_name)
        _check_text("number", self.number)
        _check_text("issuer_code", self.issuer_code, required=False)
        _check_date("birth_date", self.birth_date, required=False)
        _check_date("expires", self.expires)
        if self.gender_marker is not None and self.gender_marker not in _GENDER_MARKERS:
            raise InvalidCardError('gender_marker must be "F", "M", "X" or None')
        if self.photo is not None and (
            not isinstance(self.photo, bytes) or not self.photo.startswith(b"\xff\xd8")
        ):
            raise InvalidCardError("photo must be JPEG bytes")
        if not isinstance(self.qr_text, str) or not _qr.ALPHANUMERIC.fullmatch(self.qr_text):
            raise InvalidCardError(
                "qr_text must use only the QR alphanumeric characters (0-9 A-Z $%*+-./:)"
            )


def _face(card: PrintableCard) -> _layout.Face:
    try:
        rows = _qr.encode(card.qr_text)
        photo_info = jpeg_info(card.photo) if card.photo is not None else (0, 0, 0)
    except ValueError as exc:
        raise InvalidCardError(str(exc)) from exc
    return _layout.Face(
        city_name=card.city_name,
        issuer_code=card.issuer_code,
        holder_name=card.holder_name,
        birth_date=card.birth_date,
        gender_marker=card.gender_marker,
        number=card.number,
        expires=card.expires,
        photo=card.photo,
        photo_info=photo_info,
        qr_rows=rows,
    )


class _CardWriter:
    """Lays cards out on pages of a StreamingPdf, for either layout."""

    def __init__(self, out: BinaryIO, layout: Layout) -> None:
        if layout not in ("card", "a4"):
            raise ValueError('layout must be "card" or "a4"')
        self.layout = layout
        size = (
            _layout.A4
            if layout == "a4"
            else (
                _layout.CARD_W + 2 * _layout.BLEED,
                _layout.CARD_H + 2 * _layout.BLEED,
            )
        )
        # The title names the document type only: no personal data in PDF metadata.
        self.pdf = StreamingPdf(out, pagesize=size, title="City card")
        self._forms: set[str] = set()
        self._slot = 0
        if layout == "card":
            b = _layout.BLEED
            trim = (b, b, b + _layout.CARD_W, b + _layout.CARD_H)
            self.pdf.canvas.setTrimBox(trim)
            self.pdf.canvas.setBleedBox((0, 0, size[0], size[1]))

    def add(self, face: _layout.Face) -> None:
        if self.layout == "card":
            b = _layout.BLEED
            _layout.draw_front(self.pdf, face, b, b, self._forms)
            self.pdf.show_page()
            _layout.draw_back(self.pdf, face, b, b, self._forms)
            self.pdf.show_page()
            return
        canvas = self.pdf.canvas
        if self._slot == 0:
            _layout.sheet_caption(canvas)
        front, back = _layout.sheet_slot(self._slot)
        _layout.draw_front(self.pdf, face, *front, self._forms)
        _layout.draw_back(self.pdf, face, *back, self._forms)
        _layout.cut_marks(canvas, *front)
        _layout.cut_marks(canvas, *back)
        self._slot += 1
        if self._slot == _layout.SHEET_ROWS:
            self.pdf.show_page()
            self._slot = 0

    def close(self) -> None:
        if self._slot:
            self.pdf.show_page()
        self.pdf.close()


def render_card_pdf(card: PrintableCard, *, layout: Layout = "card") -> bytes:
    """One card as a PDF: "card" (two CR80 pages with bleed, front then back) or "a4" (both
    faces at true size, side by side, with cut marks)."""
    out = io.BytesIO()
    writer = _CardWriter(out, layout)
    writer.add(_face(card))
    writer.close()
    return out.getvalue()


def render_batch(
    cards: Iterable[PrintableCard],
    out: BinaryIO,
    *,
    layout: Layout = "a4",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Render ``cards`` into one PDF written to ``out`` as it goes; returns how many.

    Memory stays flat whatever the number of cards: each page is written out as soon as it is
    complete and only its object number and offset are kept (see ``_pdfstream``). ``progress``
    is called with the running count after each card. An invalid card raises InvalidCardError
    before anything of it is drawn; what was written to ``out`` until then is an incomplete PDF.
    """
    writer = _CardWriter(out, layout)
    count = 0
    for card in cards:
        writer.add(_face(card))
        count += 1
        if progress is not None:
            progress(count)
    writer.close()
    return count
