"""POST /api/v1/decode-image: a photo of a card, decoded on the server, then verified."""

from __future__ import annotations

import io
from typing import Any

import qrcode
from PIL import Image, ImageDraw

from .helpers import FakeIssuer

PROBLEM = "application/problem+json"


def _photo(text: str, *, fmt: str = "JPEG", scale: int = 6, rotate: int = 0) -> bytes:
    """A QR code pasted on a larger grey background, like a card on a desk."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=scale, border=4
    )
    code.add_data(text)
    qr = code.make_image().get_image().convert("RGB")
    if rotate:
        qr = qr.rotate(rotate, expand=True, fillcolor="white")
    canvas = Image.new("RGB", (qr.width + 300, qr.height + 200), (150, 160, 170))
    ImageDraw.Draw(canvas).rectangle((10, 10, 120, 60), fill=(30, 30, 90))
    canvas.paste(qr, (150, 100))
    out = io.BytesIO()
    canvas.save(out, format=fmt, quality=90) if fmt == "JPEG" else canvas.save(out, format=fmt)
    return out.getvalue()


def _upload(
    client: Any, data: bytes, name: str = "image", filename: str = "card.jpg", **kw: Any
) -> Any:
    return client.post(
        "/api/v1/decode-image",
        data={name: (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        **kw,
    )


def test_photo_of_a_valid_card(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, card = city.card(now=clock())
    response = _upload(client, _photo(text))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"] == "valid"
    assert body["card"]["number"] == card.number
    assert body["holder"]["name"] == "Amina Haddad"
    assert response.headers["Cache-Control"] == "no-store"


def test_png_rotated_and_any_field_name(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    response = _upload(client, _photo(text, fmt="PNG", rotate=90), name="photo", filename="x.png")
    assert response.status_code == 200
    assert response.get_json()["result"] == "valid"


def test_message_in_the_agents_language(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    response = _upload(client, _photo(text), headers={"Accept-Language": "fr"})
    assert response.get_json()["message"] == "Carte authentique, valide."


def test_photo_of_another_qr_code_is_a_verdict(client: Any) -> None:
    response = _upload(client, _photo("https://example.org/menu"))
    assert response.status_code == 200
    assert response.get_json()["result"] == "malformed"


def test_photo_without_a_code(client: Any) -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 100, 50)).save(out, format="PNG")
    response = _upload(client, out.getvalue())
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == "no_code_found"


def test_not_an_image(client: Any) -> None:
    for data in (b"%PDF-1.4 hello", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, b"GIF89a"):
        response = _upload(client, data)
        assert response.status_code == 422
        assert response.get_json()["code"] == "unreadable_image"


def test_formats_outside_the_list_are_refused(client: Any) -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, format="TIFF")
    response = _upload(client, out.getvalue())
    assert response.status_code == 422
    assert response.get_json()["code"] == "unreadable_image"


def test_too_many_pixels(app_factory: Any) -> None:
    client = app_factory(MAX_IMAGE_PIXELS=10_000).test_client()
    out = io.BytesIO()
    Image.new("L", (200, 200)).save(out, format="PNG")
    response = _upload(client, out.getvalue())
    assert response.status_code == 422
    assert response.get_json()["code"] == "image_too_large"


def test_too_many_bytes(app_factory: Any) -> None:
    client = app_factory(MAX_IMAGE_BYTES=1000).test_client()
    response = _upload(client, b"\xff" * 5000)
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    response = _upload(client, b"\xff" * 1500)  # under the envelope allowance, over the file limit
    assert response.status_code == 413


def test_wrong_type_missing_file_and_no_length(client: Any) -> None:
    response = client.post("/api/v1/decode-image", data=b"\xff\xd8", content_type="image/jpeg")
    assert response.status_code == 415
    response = client.post(
        "/api/v1/decode-image", data={"note": "hello"}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "no_image"
    response = client.post(
        "/api/v1/decode-image",
        input_stream=io.BytesIO(b"--x\r\n"),
        headers={"Content-Type": "multipart/form-data; boundary=x", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 411
