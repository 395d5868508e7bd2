"""Helpers of the agent-in-the-field tests: fake-camera videos made from real card renders.

A card is printed with the project's own renderer (cardservice.printing, the PDF a clerk
prints) and its back rasterised with pdfium, so the camera sees what an agent would point it
at: the card's back with its code, number and notice, not a bare QR code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pypdfium2
from PIL import Image

from cardservice.printing import PrintableCard, render_card_pdf

PX_PER_MM = 6.0  # the 26 mm code is about 156 pixels across: a phone held at a desk


def card_back(qr_text: str, *, name: str, now: datetime) -> Image.Image:
    """The back of the printed card carrying ``qr_text``, in grey levels."""
    pdf = render_card_pdf(
        PrintableCard(
            city_name="Strasbourg",
            holder_name=name,
            birth_date=date(1990, 5, 17),
            gender_marker=None,
            number="PFH8-BZ1",
            expires=(now + timedelta(days=3 * 365)).date(),
            photo=None,
            qr_text=qr_text,
            issuer_code="FR SXB",
        ),
        layout="card",
    )
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[1]
        image = page.render(scale=PX_PER_MM * 25.4 / 72, grayscale=True).to_pil().convert("L")
        page.close()
    finally:
        document.close()
    return image


def write_y4m_sequence(
    path: Path,
    images: list[Image.Image],
    *,
    frames_each: int,
    fps: int = 5,
    width: int = 640,
    height: int = 480,
) -> None:
    """A YUV4MPEG2 video (4:2:0) showing each image in turn for ``frames_each`` frames, centred
    on a dark desk. Chromium's fake camera plays it in a loop."""
    chroma = bytes([128]) * ((width // 2) * (height // 2))  # grey: no colour
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode("ascii"))
        for image in images:
            frame = Image.new("L", (width, height), 60)
            picture = image.copy()
            picture.thumbnail((width - 40, height - 40))
            frame.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
            luma = frame.tobytes()
            for _ in range(frames_each):
                fh.write(b"FRAME\n")
                fh.write(luma)
                fh.write(chroma)
                fh.write(chroma)
