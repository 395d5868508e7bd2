"""What an uploaded photo may cost (services/photos.py): its decoding memory is known from its
headers and bounded by the policy (photo.max_decode_mb) before a single pixel is decoded, and
the PNG chunks that are not pixels (compressed text, ICC profiles, animation frames) are never
handed to Pillow. None of these tests times anything: a decode that should not happen makes
Pillow's load() raise."""

from __future__ import annotations

import base64
import functools
import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from cardservice.services.errors import PhotoError
from cardservice.services.photos import decode_cost, process_photo

from .conftest import auth
from .test_api import assert_problem, enrol_json


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    """A PNG that declares its size and mode and holds a token of image data: enough for
    Pillow to open it, nothing to decode from."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    extra = _chunk(b"PLTE", b"\x00\x00\x00" * 2) if colour_type == 3 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _jpeg(size: tuple[int, int], *, progressive: bool, declared: tuple[int, int] | None = None):
    """A real JPEG; `declared` rewrites the size its frame header announces (a file of that
    size for every purpose but decoding, which these tests must never reach)."""
    out = io.BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(out, "JPEG", progressive=progressive)
    data = bytearray(out.getvalue())
    if declared is not None:
        frame = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
        struct.pack_into(">HH", data, frame + 5, declared[1], declared[0])
    return bytes(data)


def _jpeg_frame_as_baseline(data: bytes) -> bytes:
    frame = data.find(b"\xff\xc2")
    return data[:frame] + b"\xff\xc0" + data[frame + 2 :]


@functools.cache
def _issue_png() -> bytes:
    """The upload of the report: a 6300 x 6300 grey PNG of about 38 KB."""
    out = io.BytesIO()
    Image.new("L", (6300, 6300), 0).save(out, "PNG", compress_level=9)
    return out.getvalue()


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any) -> Any:
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


WORST_CASES = {
    "png-grey-8bit (the report's 38 KB file)": _issue_png,
    "png-palette": lambda: _png_header_only(6300, 6300, 8, 3),
    "png-rgb": lambda: _png_header_only(6300, 6300, 8, 2),
    "png-rgba-16bit": lambda: _png_header_only(6300, 6300, 16, 6),
    "png-grey-16bit": lambda: _png_header_only(6300, 6300, 16, 0),
    "png-rgb-4mpx": lambda: _png_header_only(2000, 2000, 8, 6),
    # Progressive: libjpeg holds every coefficient of the full image, whatever the scale.
    "jpeg-progressive": lambda: _jpeg((64, 64), progressive=True, declared=(6300, 6300)),
    # Declared baseline, but with several scans: libjpeg buffers the coefficients all the same
    # (Pillow does not flag it; the service finds the second start-of-scan marker).
    "jpeg-baseline-many-scans": lambda: _jpeg_frame_as_baseline(
        _jpeg((64, 64), progressive=True, declared=(6300, 6300))
    ),
    # Baseline, but too thin for a reduced-scale decode to help.
    "jpeg-baseline-strip": lambda: _jpeg((64, 64), progressive=False, declared=(39000, 1000)),
}


@pytest.mark.parametrize("make", WORST_CASES.values(), ids=WORST_CASES.keys())
def test_costly_images_are_refused_from_their_headers(deps: Any, no_decoding: None, make) -> None:
    with pytest.raises(PhotoError) as refused:
        process_photo(make(), deps.policy)
    assert refused.value.code == "photo_too_large"
    assert "megapixels" in str(refused.value.message)


def test_a_large_baseline_jpeg_is_still_accepted(deps: Any) -> None:
    """A 12-megapixel phone photo decodes at 1/4 scale: a few megabytes, well inside the bound."""
    data = _jpeg((4000, 3000), progressive=False)
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (600, 450))
        assert decode_cost(image, (4000, 3000), many_scans=False) < 4 * 2**20
    with Image.open(io.BytesIO(process_photo(data, deps.policy))) as out:
        assert out.size == (450, 338)  # within the 450 x 600 box


def test_a_phone_photo_with_a_second_image_is_accepted(deps: Any) -> None:
    """Phones append a depth or gain map after the photo (Multi-Picture Format; Pillow opens it
    as MPO): it still decodes at a reduced scale, and the appended image's scan is not taken
    for a second scan of the photo."""
    out = io.BytesIO()
    first, second = (Image.new("RGB", (4032, 3024), c) for c in ((90, 120, 200), (9, 9, 9)))
    first.save(out, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(process_photo(out.getvalue(), deps.policy))) as result:
        assert result.size == (450, 338)


def test_decode_cost_counts_the_coefficients_of_a_progressive_jpeg() -> None:
    data = _jpeg((2000, 1500), progressive=True)
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (600, 450))
        # 4:2:0 sampling: 1.5 samples per pixel, 2 bytes each, at the full size.
        coefficients = 2000 * 1500 * 3
        assert decode_cost(image, (2000, 1500), many_scans=False) >= coefficients


def test_png_side_chunks_never_reach_pillow(deps: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compressed text and ICC chunks (Pillow inflates up to 64 MB of them), animation chunks
    and a flood of tiny chunks are dropped before Pillow reads the file; an orientation in an
    eXIf chunk after the pixels is still applied."""
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 100, 50)).save(out, "PNG")
    png = out.getvalue()
    end = png.rindex(b"IEND") - 4
    inflates_to_a_megabyte = zlib.compress(b"\x00" * 2**20, 9)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    side = (
        b"".join(_chunk(b"zTXt", b"k%d\x00\x00" % i + inflates_to_a_megabyte) for i in range(80))
        + _chunk(b"iTXt", b"k\x00\x01\x00\x00\x00" + inflates_to_a_megabyte)
        + _chunk(b"iCCP", b"icc\x00\x00" + inflates_to_a_megabyte)
        + _chunk(b"acTL", struct.pack(">II", 2, 0))
        + _chunk(b"fcTL", bytes(26))
        + _chunk(b"fdAT", bytes(8))
        + b"".join(_chunk(b"tEXt", b"k\x00v") for _ in range(20000))
        + _chunk(b"eXIf", exif.tobytes())
    )
    bomb = png[:end] + side + png[end:]
    assert len(bomb) < deps.policy.photo_max_bytes

    def refuse(*args: Any) -> Any:
        raise AssertionError("Pillow read a chunk that is not pixels")

    for name in ("zTXt", "iTXt", "iCCP", "acTL", "fcTL", "fdAT", "tEXt"):
        monkeypatch.setattr(PngImagePlugin.PngStream, f"chunk_{name}", refuse)
    with Image.open(io.BytesIO(process_photo(bomb, deps.policy))) as result:
        assert result.format == "JPEG"
        assert result.size[0] < result.size[1]  # the eXIf orientation was applied


def test_a_jpeg_with_a_flood_of_segments_is_refused(deps: Any) -> None:
    """Pillow walks a JPEG's segments in Python: thousands of them are a CPU bomb, and no camera
    writes more than a few dozen."""
    data = _jpeg((300, 400), progressive=False)
    flood = b"".join(b"\xff\xfe\x00\x04ab" for _ in range(5000))
    with pytest.raises(PhotoError) as refused:
        process_photo(data[:2] + flood + data[2:], deps.policy)
    assert refused.value.code == "invalid_photo"


def test_a_jpeg_with_stray_bytes_between_segments_is_accepted(deps: Any) -> None:
    """Pillow steps over junk and fill bytes between segments; so does the service's own walk
    of the segments (some cameras write them)."""
    data = _jpeg((300, 400), progressive=False)
    end = 4 + int.from_bytes(data[4:6], "big")  # the end of the first segment (APP0)
    with Image.open(
        io.BytesIO(process_photo(data[:end] + b"\x00junk\xff\xff" + data[end:], deps.policy))
    ) as out:
        assert out.size == (300, 400)


def test_api_refuses_the_reported_png_with_a_translated_problem(
    client: Any, city: Any, tokens: dict[str, str], no_decoding: None
) -> None:
    photo = base64.b64encode(_issue_png()).decode()
    response = client.post(
        "/api/v1/residents",
        json=enrol_json(photo=photo),
        headers={**auth(tokens["clerk"]), "Accept-Language": "fr"},
    )
    body = assert_problem(response, 422, "photo_too_large")
    assert "40 mégapixels" in body["errors"]["photo"]
