"""What a photo uploaded to POST /api/v1/decode-image may cost (verifier/api/images.py): the
memory decoding takes is estimated from the header and bounded (VERIFIER_MAX_IMAGE_DECODE_MB)
before any pixel is decoded; a JPEG decodes straight to grey. A decode that should not happen
makes Pillow's load() raise."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from verifier.api.images import ImageProblem, decode_qr

from .helpers import FakeIssuer
from .test_decode_image import _photo, _upload


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int, colour_type: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _progressive_jpeg_declaring(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 130, 140)).save(out, "JPEG", progressive=True)
    data = bytearray(out.getvalue())
    frame = data.find(b"\xff\xc2")
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def _as_baseline(data: bytes) -> bytes:
    frame = data.find(b"\xff\xc2")
    return data[:frame] + b"\xff\xc0" + data[frame + 2 :]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any) -> Any:
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize(
    "data",
    [
        _png_header(6300, 6300, 2),  # RGB: 160 MB decoded, 40 more as grey
        _png_header(6300, 6300, 6),  # RGBA
        _progressive_jpeg_declaring(6300, 6300),  # 120 MB of coefficients
        _as_baseline(_progressive_jpeg_declaring(6300, 6300)),  # baseline with several scans
    ],
    ids=["png-rgb", "png-rgba", "jpeg-progressive", "jpeg-baseline-many-scans"],
)
def test_costly_photos_are_refused_from_their_header(
    client: Any, no_decoding: None, data: bytes
) -> None:
    response = _upload(client, data, filename="photo")
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.get_json()["code"] == "image_too_large"


def test_a_jpeg_decodes_straight_to_grey(
    client: Any, city: FakeIssuer, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No RGB image of the photo is ever made: libjpeg hands over grey pixels."""
    text, _ = city.card(now=clock())
    modes: list[str] = []
    load = ImageFile.ImageFile.load

    def watched(self: Any) -> Any:
        modes.append(self.mode)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", watched)
    response = _upload(client, _photo(text))
    assert response.status_code == 200 and response.get_json()["result"] == "valid"
    assert modes and set(modes) == {"L"}
    with pytest.raises(ImageProblem) as refused:
        decode_qr(_photo(text), max_pixels=40_000_000, max_decode_bytes=1000)
    assert refused.value.code == "image_too_large"


def test_png_side_chunks_never_reach_pillow(
    client: Any, city: FakeIssuer, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compressed text chunks (Pillow inflates up to 64 MB of them), animation chunks and a
    flood of tiny chunks are dropped before Pillow reads the photo; the card still verifies."""
    text, _ = city.card(now=clock())
    png = _photo(text, fmt="PNG")
    end = png.rindex(b"IEND") - 4
    inflates_to_a_megabyte = zlib.compress(b"\x00" * 2**20, 9)
    side = (
        b"".join(_chunk(b"zTXt", b"k%d\x00\x00" % i + inflates_to_a_megabyte) for i in range(60))
        + _chunk(b"acTL", struct.pack(">II", 2, 0))
        + _chunk(b"fdAT", bytes(8))
        + b"".join(_chunk(b"tEXt", b"k\x00v") for _ in range(20000))
    )

    def refuse(*args: Any) -> Any:
        raise AssertionError("Pillow read a chunk that is not pixels")

    for name in ("zTXt", "acTL", "fdAT", "tEXt"):
        monkeypatch.setattr(PngImagePlugin.PngStream, f"chunk_{name}", refuse)
    response = _upload(client, png[:end] + side + png[end:], filename="card.png")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["result"] == "valid"


def test_a_phone_photo_with_a_second_image_is_read(
    client: Any, city: FakeIssuer, clock: Any
) -> None:
    """A Multi-Picture JPEG (a photo and its depth map, opened by Pillow as MPO) decodes
    straight to grey like any JPEG."""
    text, _ = city.card(now=clock())
    photo = Image.open(io.BytesIO(_photo(text)))
    out = io.BytesIO()
    photo.save(out, "MPO", save_all=True, append_images=[Image.new("RGB", photo.size)])
    response = _upload(client, out.getvalue())
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["result"] == "valid"
