"""Photo intake: only JPEG or PNG, bounded size, pixel count and decoding memory, re-encoded
and stripped.

The uploaded bytes are never stored: the image is decoded, shrunk, converted to RGB, oriented
and saved again as a fresh JPEG with no EXIF, XMP, ICC or comment (GPS tags would say where the
resident lives).

Decoding is where an upload costs memory, so nothing is decoded before its cost is known from
the file's headers (Pillow reads the size without touching the pixels; the PNG rebuild and the
JPEG segment walk are webguard.images, shared with the verifier):

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
import struct
import warnings

from flask_babel import lazy_gettext as _l
from PIL import ExifTags, Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from webguard.images import (
    JPEG_MAGIC,
    PNG_MAGIC,
    jpeg_coefficient_bytes,
    jpeg_has_many_scans,
    pixel_bytes,
    png_pixels_only,
)

from .errors import PhotoError
from .policy import Policy

# Passport-style portraits are taller than wide; anything absurdly thin is not a face photo.
_MIN_SIDE = 64
# Besides the pixel chunks, a PNG keeps its eXIf (for the orientation); every other is dropped.
_PNG_KEPT = frozenset((b"eXIf",))
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
        if data.startswith(JPEG_MAGIC):
            expected, many_scans = "JPEG", jpeg_has_many_scans(data)
            stream = io.BytesIO(data)
        elif data.startswith(PNG_MAGIC):
            expected, many_scans = "PNG", False
            stream = io.BytesIO(png_pixels_only(data, keep=_PNG_KEPT))
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
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,  # webguard.images.DamagedImage too
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
    image to look for an eXIf chunk after the pixels (png_pixels_only moved any before them)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return orientation if isinstance(orientation, int) else 1


def decode_cost(image: Image.Image, full_size: tuple[int, int], many_scans: bool) -> int:
    """Bytes that decoding `image` (opened, draft already applied) holds at its peak: the
    decoded pixels, their RGB copy unless already RGB or grey, and, for a JPEG with several
    scans, libjpeg's coefficient buffer at the full size."""
    width, height = image.size
    mode = image.mode
    per_pixel = pixel_bytes(mode) + (0 if mode in ("RGB", "L") else 4)
    return width * height * per_pixel + jpeg_coefficient_bytes(image, full_size, many_scans)
