"""PrintableCard, render_card_pdf and render_batch (documented in the package docstring)."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import re
import subprocess
import sys
import unicodedata
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
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
# The app re-encodes photos small; these bounds only keep a mistake from producing a PDF that
# every viewer must decode a huge image to show.
_MAX_PHOTO_BYTES = 8 * 1024 * 1024
_MAX_PHOTO_SIDE = 6000


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
    card_title: str = ""  # what the card is, e.g. "Carte citoyenne · City card"

    def __post_init__(self) -> None:
        _check_text("city_name", self.city_name)
        _check_text("holder_name", self.holder_name)
        _check_text("number", self.number)
        _check_text("issuer_code", self.issuer_code, required=False)
        _check_text("card_title", self.card_title, required=False)
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


def _face(card: PrintableCard, qr: tuple[str, ...] | str | None = None) -> _layout.Face:
    """The card's faces; ``qr`` is its QR symbol (or the error) when already encoded."""
    try:
        if qr is None:
            qr = _qr.encode(card.qr_text)
        elif isinstance(qr, str):
            raise ValueError(qr)
        photo_info = (0, 0, 0)
        if card.photo is not None:
            if len(card.photo) > _MAX_PHOTO_BYTES:
                raise ValueError("photo is larger than 8 MB")
            photo_info = jpeg_info(card.photo)
            if max(photo_info[:2]) > _MAX_PHOTO_SIDE:
                raise ValueError(f"photo is wider or taller than {_MAX_PHOTO_SIDE} pixels")
    except ValueError as exc:
        raise InvalidCardError(str(exc)) from exc
    return _layout.Face(card=card, photo_info=photo_info, qr_rows=qr)


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


# Encoding a QR code with the qrcode package (pure Python Reed-Solomon) takes about as long as
# drawing the rest of the card, so large batches encode them in a second process while this one
# draws: on a 2-CPU machine that nearly halves the time. The worker is a plain subprocess that
# runs _qr.py as a script (it imports qrcode, not the app) with this process's interpreter and
# environment, and speaks one line per card; unlike multiprocessing it needs nothing from the
# caller's __main__ module. Small batches do not pay its start-up.
PARALLEL_MIN_CARDS = 64
_IN_FLIGHT_CARDS = 64
# Texts sent ahead stay under a pipe's capacity (64 KiB on Linux), so writing never blocks while
# the worker waits for us to read: no deadlock. A longer text cannot fit a printable QR code;
# it is encoded here, which fails fast with the usual message.
_IN_FLIGHT_BYTES = 48 * 1024
_MAX_SENT_TEXT = 1024

_log = logging.getLogger(__name__)


class _QrWorker:
    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, _qr.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="ascii",
        )

    def send(self, text: str) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(text + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise OSError("the QR worker stopped") from exc

    def receive(self) -> tuple[str, ...] | str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.endswith("\n"):
            raise OSError("the QR worker stopped")
        if line.startswith("!"):
            return line[1:-1]
        size, _, bits = line[:-1].partition(":")
        n = int(size)
        return tuple(bits[i * n : (i + 1) * n] for i in range(n))

    def close(self) -> None:
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a dead worker: nothing to flush to
                    pipe.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _drain(head: deque[PrintableCard], rest: Iterator[PrintableCard]) -> Iterator[PrintableCard]:
    while head:
        yield head.popleft()
    yield from rest


def _faces(cards: Iterable[PrintableCard]) -> Generator[_layout.Face, None, None]:
    source = iter(cards)
    # Look ahead to decide whether the worker pays off; the cards looked at are let go as soon
    # as they are drawn (a deque emptied as we go), so memory does not hold them all.
    head = deque(itertools.islice(source, PARALLEL_MIN_CARDS))
    large = len(head) >= PARALLEL_MIN_CARDS
    cards_in_order = _drain(head, source)
    if not large or (os.cpu_count() or 1) < 2:
        for card in cards_in_order:
            yield _face(card)
        return
    worker: _QrWorker | None = _QrWorker()
    # Cards in order with the size of the text sent to the worker, or None: encode it here.
    pending: deque[tuple[PrintableCard, int | None]] = deque()
    in_flight = 0

    def next_face() -> _layout.Face:
        nonlocal in_flight, worker
        card, sent = pending.popleft()
        if not sent or worker is None:
            return _face(card)
        in_flight -= sent
        try:
            return _face(card, worker.receive())
        except OSError:
            # The worker died (killed for memory, say): finish the batch in this process.
            _log.warning("QR worker process stopped; encoding in the main process")
            worker.close()
            worker = None
            return _face(card)

    try:
        for card in cards_in_order:
            size = len(card.qr_text) + 1
            if worker is None or size > _MAX_SENT_TEXT:
                pending.append((card, None))
            else:
                while pending and (
                    len(pending) >= _IN_FLIGHT_CARDS or in_flight + size > _IN_FLIGHT_BYTES
                ):
                    yield next_face()
                sent: int | None = None
                if worker is not None:
                    try:
                        worker.send(card.qr_text)
                        sent = size
                        in_flight += size
                    except OSError:
                        _log.warning("QR worker process stopped; encoding in the main process")
                        worker.close()
                        worker = None
                pending.append((card, sent))
            while len(pending) > _IN_FLIGHT_CARDS:
                yield next_face()
        while pending:
            yield next_face()
    finally:
        if worker is not None:
            worker.close()


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
    With no cards at all nothing is written (a PDF must have a page) and 0 is returned.
    """
    if layout not in ("card", "a4"):
        raise ValueError('layout must be "card" or "a4"')
    count = 0
    faces = _faces(cards)
    try:
        first = next(faces, None)
        if first is None:
            return 0
        writer = _CardWriter(out, layout)
        for face in itertools.chain([first], faces):
            writer.add(face)
            count += 1
            if progress is not None:
                progress(count)
    finally:
        faces.close()  # stops the QR worker at once if drawing failed
    writer.close()
    return count
