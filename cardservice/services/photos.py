"""Photo intake: only JPEG or PNG, bounded size, pixel count and decoding memory, re-encoded
and stripped.

The uploaded bytes are never stored: the image is decoded, shrunk, converted to RGB, oriented
and saved again as a fresh JPEG with no EXIF, XMP, ICC or comment (GPS tags would say where the
resident lives).

Decoding is where an upload costs memory, so nothing is decoded before its cost is known from
the file's headers (Pillow reads the size without touching the pixels):

- a PNG is rebuilt from its pixel chunks alone before Pillow sees it, so compressed text and
  ICC chunks (zTXt, iTXt, iCCP: up to 64 MB inflated by Pillow), animation frames (APNG) and
  floods of tiny chunks cost nothing; its pixels are decoded at full size, since PNG has no
  reduced decoding;
- a JPEG decodes at 1/2, 1/4 or 1/8 scale (``Image.draft``) when the output allows, but a
  progressive or multi-scan JPEG also makes libjpeg hold every DCT coefficient of the full
  image (2 bytes per sample): that buffer counts too.

``decode_cost()`` adds the buffers that will be alive at the peak (the decoded image, its RGB
copy, the coefficients); above the policy's ``max_decode_mb`` the photo is refused with a
message that says how many megapixels this kind of file may have. With the default 24 MB, six
worst-case uploads at once keep every gunicorn worker far below 250 MB (docs/performance.md,
bench/bench_upload.py).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

from flask_babel import lazy_gettext as _l
from PIL import ExifTags, Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from .errors import PhotoError
from .policy import Policy

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Passport-style portraits are taller than wide; anything absurdly thin is not a face photo.
_MIN_SIDE = 64
# PNG chunks that carry the pixels (and eXIf, for the orientation); every other is dropped.
_PNG_KEPT = frozenset((b"IHDR", b"PLTE", b"tRNS", b"eXIf"))
# A camera JPEG has a dozen segments before its first scan; thousands are a CPU bomb for
# Pillow's marker loop, which runs in Python.
_MAX_JPEG_SEGMENTS = 256
# A marker: 0xFF, any number of 0xFF fill bytes, then the marker's code.
_JPEG_MARKER = re.compile(rb"\xff+[^\xff]")
# Bytes per pixel of Pillow's storage for a mode: one for 8-bit and bilevel, two for 16-bit
# grey, four for every other (RGB is stored as RGBX).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# EXIF orientation -> the transposition that displays the image upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = frozenset(
    (
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_270,
    )
)


class _Damaged(Exception):
    """The file's structure is broken (mapped to the 'damaged' PhotoError)."""


def process_photo(data: bytes, policy: Policy) -> bytes:
    """Return a clean JPEG for the record, or raise PhotoError (code invalid_photo or
    photo_too_large)."""
    if not data:
        raise PhotoError(_l("The photo is empty."), field="photo")
    if len(data) > policy.photo_max_bytes:
        raise PhotoError(
            _l("The photo is too large (at most %(mb)s MB).", mb=policy.photo_max_bytes // 2**20),
            field="photo",
            code="photo_too_large",
        )
    try:
        if data.startswith(_JPEG_MAGIC):
            expected, many_scans = "JPEG", _jpeg_has_many_scans(data)
            stream = io.BytesIO(data)
        elif data.startswith(_PNG_MAGIC):
            expected, many_scans = "PNG", False
            stream = io.BytesIO(_png_pixels_only(data))
        else:
            raise PhotoError(_l("The photo must be a JPEG or PNG image."), field="photo")
        with warnings.catch_warnings():
            # Pillow only *warns* between 1x and 2x its own pixel limit; treat that as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream, formats=[expected]) as image:
                return _reencode(image, policy, many_scans)
    except PhotoError:
        raise
    except (
        _Damaged,
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
    ):
        # Pillow signals truncated or malformed files through all of these.
        raise PhotoError(_l("The photo file is damaged or not an image."), field="photo") from None


def _reencode(image: Image.Image, policy: Policy, many_scans: bool) -> bytes:
    width, height = image.size
    if width * height > policy.photo_max_pixels:
        raise PhotoError(
            _l("The photo has too many pixels."), field="photo", code="photo_too_large"
        )
    if min(width, height) < _MIN_SIDE:
        raise PhotoError(_l("The photo is too small."), field="photo")
    turn = _UPRIGHT.get(_orientation(image))
    box = (policy.photo_max_width, policy.photo_max_height)
    if turn in _SIDEWAYS:
        # Shrink to the box as stored, then turn: turning the full-size image would copy it.
        box = (box[1], box[0])
    if isinstance(image, JpegImageFile):  # MpoImageFile too: phone photos with a depth map
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, no smaller than the output: a phone photo
        # decodes several times faster and in a fraction of the memory. Sets the size to it.
        image.draft("RGB", box)
    cost = decode_cost(image, (width, height), many_scans)
    if cost > policy.photo_max_decode_bytes:
        per_pixel = cost / (width * height)
        raise PhotoError(
            _l(
                "The photo is too large to process: %(pixels)s megapixels, at most %(limit)s "
                "for this file. Save it at a smaller size and try again.",
                pixels=max(1, round(width * height / 1e6)),
                limit=int(policy.photo_max_decode_bytes / per_pixel / 1e6),
            ),
            field="photo",
            code="photo_too_large",
        )
    image.load()
    # Grey images shrink before they become RGB (a quarter of the memory); other modes turn RGB
    # first, since Pillow cannot resample a palette and would premultiply RGBA into a copy.
    rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
    # Bicubic with Pillow's reducing gap: as good as Lanczos at this scale, cheaper.
    rgb.thumbnail(box, Image.Resampling.BICUBIC)
    if rgb.mode != "RGB":
        rgb = rgb.convert("RGB")
    if turn is not None:
        rgb = rgb.transpose(turn)
    # A fresh JPEG from the pixels alone: no EXIF (GPS!), ICC profile or comment.
    rgb.info = {}
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=policy.photo_quality, exif=b"")
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation, read without decoding: PngImageFile.getexif() decodes the whole
    image to look for an eXIf chunk after the pixels (_png_pixels_only moved any before them)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if isinstance(orientation, int) else 1


def decode_cost(image: Image.Image, full_size: tuple[int, int], many_scans: bool) -> int:
    """Bytes that decoding `image` (opened, draft already applied) holds at its peak: the
    decoded pixels, their RGB copy unless already RGB or grey, and, for a JPEG with several
    scans, libjpeg's coefficient buffer at the full size (2 bytes per sample per component,
    components counted at their sampling)."""
    width, height = image.size
    mode = image.mode
    per_pixel = _PIXEL_BYTES.get(mode, 4) + (0 if mode in ("RGB", "L") else 4)
    cost = width * height * per_pixel
    if many_scans or image.info.get("progressive"):
        layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
        h_max = max(layer[1] for layer in layers)
        v_max = max(layer[2] for layer in layers)
        pixels = full_size[0] * full_size[1]
        cost += sum(2 * pixels * layer[1] * layer[2] // (h_max * v_max) for layer in layers)
    return cost


def _png_pixels_only(data: bytes) -> bytes:
    """The PNG rebuilt from IHDR, PLTE, tRNS, eXIf and its image data as one IDAT; checksums of
    the kept chunks verified, everything after IEND ignored. Raises _Damaged."""
    view = memoryview(data)
    kept = [_PNG_MAGIC]
    image_data: list[memoryview] = []
    pos = len(_PNG_MAGIC)
    while True:
        if pos + 12 > len(data):
            raise _Damaged()
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise _Damaged()
        if kind == b"IEND":
            break
        if kind == b"IDAT" or kind in _PNG_KEPT:
            (crc,) = struct.unpack_from(">I", data, end - 4)
            if zlib.crc32(view[pos + 4 : end - 4]) != crc:
                raise _Damaged()
            if kind == b"IDAT":
                image_data.append(view[pos + 8 : end - 4])
            else:
                kept.append(view[pos:end].tobytes())
        pos = end
    if not image_data:
        raise _Damaged()
    kept.append(_png_chunk(b"IDAT", b"".join(image_data)))
    kept.append(_png_chunk(b"IEND", b""))
    return b"".join(kept)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body))


def _jpeg_has_many_scans(data: bytes) -> bool:
    """True when the JPEG's main image has more than one scan (progressive, or baseline with
    components in separate scans), which makes libjpeg buffer the whole image's coefficients.

    Walks the segments up to the first scan, then looks for a second start-of-scan before the
    end-of-image marker: inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
    restart marker, so the search cannot be fooled by the data. Raises _Damaged."""
    pos = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        # Like Pillow, step over stray bytes between segments and over fill bytes.
        found = _JPEG_MARKER.search(data, pos)
        if found is None or found.end() + 2 > len(data):
            raise _Damaged()
        pos = found.end() - 2  # the 0xFF just before the marker byte
        marker = data[pos + 1]
        if marker == 0xDA:
            end = data.find(b"\xff\xd9", pos)
            return data.find(b"\xff\xda", pos + 2, end if end >= 0 else len(data)) >= 0
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    raise _Damaged()
