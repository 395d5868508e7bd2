"""Round trip through real tools: render the PDF, rasterise it with pdfium at 300 dpi, decode the
QR code with zxing-cpp, verify the token with cardformat, and find the holder's name."""

from __future__ import annotations

import zxingcpp

from cardformat import verify_card
from cardservice.printing import render_card_pdf

from .conftest import MM, NOW


def _decode(image) -> list[zxingcpp.Barcode]:  # type: ignore[no-untyped-def]
    return [b for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]


def test_card_layout_round_trip(make_card, resolve_key, open_pdf) -> None:  # type: ignore[no-untyped-def]
    card = make_card(holder_name="Анна Каренина")
    pdf = open_pdf(render_card_pdf(card))
    assert len(pdf) == 2

    codes = _decode(pdf.image(1, dpi=300))
    assert [c.text for c in codes] == [card.qr_text]

    verified = verify_card(codes[0].text, resolve_key=resolve_key, now=NOW)
    assert verified.card.holder_name == card.holder_name
    assert verified.card.number == card.number
    assert verified.issuer == "FR SXB"

    front = pdf.text(0)
    assert card.holder_name in front
    assert card.number in front
    assert "1990-04-12" in front


def test_qr_is_at_least_22_mm_wide(make_card, open_pdf) -> None:  # type: ignore[no-untyped-def]
    pdf = open_pdf(render_card_pdf(make_card()))
    (code,) = _decode(pdf.image(1, dpi=300))
    position = code.position
    width_px = abs(position.top_right.x - position.top_left.x)
    assert width_px / 300 * 25.4 >= 22.0


def test_a4_layout_round_trip(make_card, resolve_key, open_pdf) -> None:  # type: ignore[no-untyped-def]
    card = make_card(holder_name="محمد عبد الله")
    pdf = open_pdf(render_card_pdf(card, layout="a4"))
    assert len(pdf) == 1
    left, bottom, right, top = pdf.box(0, "mediabox")
    assert (round((right - left) / MM), round((top - bottom) / MM)) == (210, 297)

    codes = _decode(pdf.image(0, dpi=300))
    assert [c.text for c in codes] == [card.qr_text]
    verified = verify_card(codes[0].text, resolve_key=resolve_key, now=NOW)
    assert verified.card.holder_name == "محمد عبد الله"
    assert card.number in pdf.text(0)
