"""Fixtures for the card printing tests: sample cards, signed tokens, and pdfium helpers."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pytest
from PIL import Image

from cardformat import Card, TrustedKey, generate_card_number, generate_key, key_id, sign_card
from cardservice.printing import PrintableCard

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=5 * 365)
MM = 72 / 25.4


@pytest.fixture(scope="session")
def signing_key():  # type: ignore[no-untyped-def]
    return generate_key()


@pytest.fixture(scope="session")
def resolve_key(signing_key) -> Callable[[bytes], TrustedKey | None]:  # type: ignore[no-untyped-def]
    trusted = TrustedKey(
        kid=key_id(signing_key), public_key=signing_key.public_key(), issuer="FR SXB"
    )
    return lambda kid: trusted if kid == trusted.kid else None


def jpeg(color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (300, 400)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="session")
def make_card(signing_key) -> Callable[..., PrintableCard]:  # type: ignore[no-untyped-def]
    """Build a PrintableCard with a real signed token; keyword arguments override fields."""

    def make(**overrides: object) -> PrintableCard:
        name = str(overrides.get("holder_name", "Zoë Łukasiewicz-Ñúñez"))
        number = str(overrides.get("number") or generate_card_number())
        birth = overrides.get("birth_date", date(1990, 4, 12))
        token = sign_card(
            Card(number=number, holder_name=name, birth_date=birth, status_index=4242),  # type: ignore[arg-type]
            issuer="FR SXB",
            signing_key=signing_key,
            now=NOW,
            expires_at=EXPIRES,
        )
        card = PrintableCard(
            city_name="Strasbourg",
            holder_name=name,
            birth_date=birth,  # type: ignore[arg-type]
            gender_marker="X",
            number=number,
            expires=EXPIRES.date(),
            photo=jpeg(),
            qr_text=token,
            issuer_code="FR SXB",
        )
        rest = {k: v for k, v in overrides.items() if k not in {"holder_name", "number"}}
        return replace(card, **rest)  # type: ignore[arg-type]

    return make


class Rendered:
    """A PDF opened with pdfium: page texts, rasters and boxes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.doc = pdfium.PdfDocument(data)

    def __len__(self) -> int:
        return len(self.doc)

    def text(self, index: int) -> str:
        page = self.doc[index]
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
            page.close()

    def image(self, index: int, dpi: float = 300) -> Image.Image:
        page = self.doc[index]
        try:
            bitmap = page.render(scale=dpi / 72)
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            return image
        finally:
            page.close()

    def box(self, index: int, name: str) -> tuple[float, float, float, float]:
        page = self.doc[index]
        try:
            return tuple(getattr(page, f"get_{name}")())  # type: ignore[return-value]
        finally:
            page.close()

    def close(self) -> None:
        self.doc.close()


@pytest.fixture
def open_pdf() -> Iterator[Callable[[bytes], Rendered]]:
    opened: list[Rendered] = []

    def open_(data: bytes) -> Rendered:
        rendered = Rendered(data)
        opened.append(rendered)
        return rendered

    yield open_
    for rendered in opened:
        rendered.close()
