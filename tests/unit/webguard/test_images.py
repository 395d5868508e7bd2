"""webguard.images on its own: what neither app's tests pin (the apps' tests, in
tests/integration/cardservice/test_photo_cost.py and tests/integration/verifier/test_image_cost.py,
check the refusals and the chunks that never reach Pillow through each app)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from webguard.images import (
    DamagedImage,
    jpeg_coefficient_bytes,
    jpeg_has_many_scans,
    pixel_bytes,
    png_pixels_only,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(kind, body) of every chunk of a PNG, in order."""
    found, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        found.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _split_idat(png: bytes, extra: bytes) -> bytes:
    """The PNG with its image data in three IDAT chunks and ``extra`` chunks before them."""
    chunks = _chunks(png)
    data = b"".join(body for kind, body in chunks if kind == b"IDAT")
    third = len(data) // 3 + 1
    idats = b"".join(_chunk(b"IDAT", data[i : i + third]) for i in range(0, len(data), third))
    head = b"".join(_chunk(kind, body) for kind, body in chunks if kind == b"IHDR")
    return png[:8] + head + extra + idats + _chunk(b"IEND", b"")


def test_png_keeps_only_pixel_chunks_and_what_is_asked_for() -> None:
    image = Image.effect_noise((40, 30), 50).convert("RGB")
    side = _chunk(b"tEXt", b"Comment\x00secret") + _chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08")
    png = _split_idat(_png(image), side)

    rebuilt = png_pixels_only(png)
    assert [kind for kind, _ in _chunks(rebuilt)] == [b"IHDR", b"IDAT", b"IEND"]
    with Image.open(io.BytesIO(rebuilt)) as decoded:
        assert decoded.tobytes() == image.tobytes()  # the three IDATs joined, pixels intact
    kept = png_pixels_only(png, keep=frozenset((b"eXIf",)))
    assert [kind for kind, _ in _chunks(kept)] == [b"IHDR", b"eXIf", b"IDAT", b"IEND"]


def test_png_checksums_are_checked_on_kept_chunks_only() -> None:
    png = _png(Image.new("L", (8, 8)))
    broken_text = _chunk(b"tEXt", b"a\x00b")[:-1] + b"\x00"
    assert png_pixels_only(_split_idat(png, broken_text))  # dropped unread
    broken_plte = _chunk(b"PLTE", b"\x00" * 3)[:-1] + b"\x00"
    with pytest.raises(DamagedImage):
        png_pixels_only(_split_idat(png, broken_plte))


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda png: png[:-20], id="truncated"),
        pytest.param(lambda png: png[:33] + _chunk(b"IEND", b""), id="no image data"),
        pytest.param(lambda png: png[:33], id="no IEND"),
    ],
)
def test_broken_pngs_raise_damaged_image(cut: object) -> None:
    png = _png(Image.new("RGB", (8, 8)))
    with pytest.raises(DamagedImage):
        png_pixels_only(cut(png))  # type: ignore[operator]
    assert issubclass(DamagedImage, ValueError)  # what each app maps to its own error


def _jpeg(progressive: bool, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(
        out, format="JPEG", progressive=progressive, subsampling="4:2:0"
    )
    return out.getvalue()


def test_jpeg_scans_are_counted_from_the_segments() -> None:
    assert jpeg_has_many_scans(_jpeg(progressive=False)) is False
    assert jpeg_has_many_scans(_jpeg(progressive=True)) is True
    with pytest.raises(DamagedImage):
        jpeg_has_many_scans(_jpeg(progressive=False)[:100])


def test_coefficients_are_counted_for_a_multi_scan_jpeg_only() -> None:
    full = (64, 48)
    with Image.open(io.BytesIO(_jpeg(progressive=True))) as image:
        # 4:2:0: luma at full size, both chroma at a quarter; 2 bytes a sample.
        assert jpeg_coefficient_bytes(image, full, many_scans=False) == 2 * 64 * 48 * 6 // 4
    with Image.open(io.BytesIO(_jpeg(progressive=False))) as image:
        assert jpeg_coefficient_bytes(image, full, many_scans=False) == 0
        assert jpeg_coefficient_bytes(image, full, many_scans=True) == 2 * 64 * 48 * 6 // 4
    with Image.open(io.BytesIO(_png(Image.new("RGB", full)))) as image:
        assert jpeg_coefficient_bytes(image, full, many_scans=True) == 0


def test_pixel_bytes_follow_pillows_storage() -> None:
    assert [pixel_bytes(mode) for mode in ("1", "L", "P", "I;16", "RGB", "RGBA", "I")] == [
        1,
        1,
        1,
        2,
        4,
        4,
        4,
    ]
