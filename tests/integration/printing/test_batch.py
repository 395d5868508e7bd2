"""Batch printing: page counts, every QR code readable, shared resources embedded once, pages
written as they are finished, the QR worker process, and bad cards."""

from __future__ import annotations

import io
import re
import tracemalloc
from dataclasses import replace

import pytest
import zxingcpp
from PIL import Image

from cardservice.printing import InvalidCardError, _render, render_batch

from .conftest import jpeg


def _qr_texts(image) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode
    }


@pytest.fixture(scope="module")
def nine_cards(make_card):  # type: ignore[no-untyped-def]
    names = ["Zoë", "Анна", "Σοφία", "محمد", "李小龍", "김민준", "Ana Lúcia", "Dawit", "Yusuf"]
    return [
        make_card(holder_name=n, photo=jpeg((20 * i, 90, 200 - 20 * i)))
        for i, n in enumerate(names)
    ]


def test_a4_batch_puts_four_cards_per_sheet(nine_cards, open_pdf) -> None:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    seen: list[int] = []
    assert render_batch(nine_cards, out, layout="a4", progress=seen.append) == 9
    assert seen == list(range(1, 10))
    pdf = open_pdf(out.getvalue())
    assert len(pdf) == 3
    assert _qr_texts(pdf.image(0, dpi=200)) == {c.qr_text for c in nine_cards[:4]}
    assert _qr_texts(pdf.image(2, dpi=200)) == {nine_cards[8].qr_text}
    for card in nine_cards[4:8]:
        assert card.holder_name in pdf.text(1)


def test_card_batch_has_front_and_back_per_card(nine_cards, open_pdf) -> None:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    assert render_batch(nine_cards[:3], out, layout="card") == 3
    pdf = open_pdf(out.getvalue())
    assert len(pdf) == 6
    for i, card in enumerate(nine_cards[:3]):
        assert card.holder_name in pdf.text(2 * i)
        assert _qr_texts(pdf.image(2 * i + 1, dpi=300)) == {card.qr_text}


def test_empty_batch_writes_nothing() -> None:
    out = io.BytesIO()
    assert render_batch([], out) == 0
    assert out.getvalue() == b""
    with pytest.raises(ValueError, match="layout"):
        render_batch([], out, layout="letter")  # type: ignore[arg-type]


def _count(pattern: bytes, data: bytes) -> int:
    return len(re.findall(pattern, data))


def test_fonts_artwork_and_shared_photos_are_embedded_once(make_card) -> None:  # type: ignore[no-untyped-def]
    photo = jpeg((10, 120, 60))

    def batch(n: int, distinct_photos: bool) -> bytes:
        cards = [
            make_card(
                holder_name=f"Ana Pérez {i}",
                photo=jpeg((i * 40, 50, 50)) if distinct_photos else photo,
            )
            for i in range(n)
        ]
        out = io.BytesIO()
        render_batch(cards, out, layout="a4")
        return out.getvalue()

    small, large = batch(2, False), batch(12, False)
    # Font files: the same number whatever the batch size (subsets grow, they do not repeat).
    assert _count(rb"/FontFile2", large) == _count(rb"/FontFile2", small)
    # The static artwork of each face: two form XObjects.
    assert _count(rb"/Subtype /Form", large) == 2
    # One photo shared by every card: embedded once.
    assert _count(rb"/Subtype /Image", large) == 1
    # Distinct photos: one each.
    assert _count(rb"/Subtype /Image", batch(5, True)) == 5


class _Recorder(io.BytesIO):
    """Records how much had been written each time a card was finished."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def mark(self, _count: int) -> None:
        self.sizes.append(self.tell())


def test_pages_are_written_as_they_are_finished(make_card) -> None:  # type: ignore[no-untyped-def]
    cards = [make_card(holder_name=f"Ana {i}", photo=jpeg((i * 8, 40, 40))) for i in range(12)]
    out = _Recorder()
    render_batch(cards, out, layout="card", progress=out.mark)
    # Each card's two pages, photo included, are in the output before the next card starts.
    photo = min(len(c.photo or b"") for c in cards)
    assert all(b >= a + photo for a, b in zip(out.sizes, out.sizes[1:], strict=False))
    assert out.sizes[-1] < len(out.getvalue())  # fonts, page tree and xref come last


@pytest.fixture
def small_worker_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_render, "PARALLEL_MIN_CARDS", 3)
    monkeypatch.setattr(_render, "_IN_FLIGHT_CARDS", 4)


class _Sink:
    """A write-only output that keeps nothing, so only the renderer's own memory is measured."""

    def write(self, data: bytes) -> int:
        return len(data)


@pytest.mark.usefixtures("small_worker_threshold")
def test_memory_does_not_grow_with_the_batch(make_card) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    Image.effect_noise((300, 400), 60).convert("RGB").save(buf, "JPEG", quality=90)
    noisy = buf.getvalue()  # about 100 kB: a batch kept in memory would show at once
    template = make_card(photo=noisy)

    def cards(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            # Distinct bytes per card (a JPEG comment), so no photo is shared between cards.
            comment = str(i).encode()
            photo = noisy[:2] + b"\xff\xfe" + bytes([0, len(comment) + 2]) + comment + noisy[2:]
            yield replace(template, photo=photo)

    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            render_batch(cards(n), _Sink(), layout="card")  # type: ignore[arg-type]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(2)  # fonts loaded, caches warm
    small, large = peak(6), peak(30)
    # 24 more cards: kept in memory they would add 24 photos; streamed, about nothing. (The
    # renderer holds a bounded window of cards: the look-ahead and those whose QR code is being
    # encoded, four here, 64 by default.)
    assert large - small < 4 * len(noisy), (small, large, len(noisy))


def test_invalid_card_in_a_batch_is_reported(make_card) -> None:  # type: ignore[no-untyped-def]
    good = make_card()
    bad = replace(good, photo=b"\xff\xd8 broken")
    with pytest.raises(InvalidCardError, match="photo"):
        render_batch([good, bad, good], io.BytesIO())


@pytest.mark.usefixtures("small_worker_threshold")
def test_qr_worker_process_encodes_large_batches(nine_cards, open_pdf) -> None:  # type: ignore[no-untyped-def]
    too_long = replace(nine_cards[0], qr_text="MC1:" + "A" * 2000)  # encoded locally: fails
    out = io.BytesIO()
    assert render_batch(nine_cards, out, layout="a4") == 9
    pdf = open_pdf(out.getvalue())
    assert _qr_texts(pdf.image(1, dpi=200)) == {c.qr_text for c in nine_cards[4:8]}
    with pytest.raises(InvalidCardError, match="too long"):
        render_batch([*nine_cards, too_long], io.BytesIO())
    # Too long for a printable code but short enough to go to the worker: its error comes back.
    with pytest.raises(InvalidCardError, match="too long"):
        render_batch([*nine_cards, replace(too_long, qr_text="MC1:" + "B" * 600)], io.BytesIO())


@pytest.mark.usefixtures("small_worker_threshold")
def test_batch_survives_the_worker_dying(nine_cards, open_pdf, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    workers: list[_render._QrWorker] = []

    class Recorded(_render._QrWorker):
        def __init__(self) -> None:
            super().__init__()
            workers.append(self)

    monkeypatch.setattr(_render, "_QrWorker", Recorded)

    def progress(done: int) -> None:
        if done == 2:
            workers[0]._proc.kill()
            workers[0]._proc.wait()

    out = io.BytesIO()
    assert render_batch(nine_cards, out, layout="card", progress=progress) == 9
    pdf = open_pdf(out.getvalue())
    for i in (0, 4, 8):
        assert _qr_texts(pdf.image(2 * i + 1, dpi=300)) == {nine_cards[i].qr_text}


def test_cross_reference_table_points_at_every_object(nine_cards) -> None:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    render_batch(nine_cards, out, layout="card")
    data = out.getvalue()
    start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))  # type: ignore[union-attr]
    header = re.match(rb"xref\n0 (\d+)\n", data[start:])
    assert header is not None
    entries = data[start + header.end() :].split(b"trailer")[0]
    rows = [entries[i : i + 20] for i in range(0, len(entries), 20)]
    assert len(rows) == int(header.group(1))
    assert rows[0] == b"0000000000 65535 f \n"
    for number, row in enumerate(rows[1:], start=1):
        offset = int(row[:10])
        assert row[10:] == b" 00000 n \n"
        assert data[offset:].startswith(b"%d 0 obj\n" % number), number
