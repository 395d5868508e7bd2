"""Photo intake: only JPEG or PNG, bounded size and pixel count, re-encoded and stripped.

The uploaded bytes are never stored: the image is decoded (after checking its declared size, so a
decompression bomb is refused before any pixel is inflated), oriented, converted to RGB, shrunk
and saved again as a fresh JPEG with no EXIF, XMP, ICC or comment (GPS tags would say where the
resident lives).
"""

from __future__ import annotations

import io
import warnings

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PhotoError
from .policy import Policy

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Passport-style portraits are taller than wide; anything absurdly thin is not a face photo.
_MIN_SIDE = 64


def process_photo(data: bytes, policy: Policy) -> bytes:
    """Return a clean JPEG for the record, or raise PhotoError (code invalid_photo)."""
    if not data:
        raise PhotoError(_l("The photo is empty."), field="photo")
    if len(data) > policy.photo_max_bytes:
        raise PhotoError(
            _l("The photo is too large (at most %(mb)s MB).", mb=policy.photo_max_bytes // 2**20),
            field="photo",
            code="photo_too_large",
        )
    if data.startswith(_JPEG_MAGIC):
        expected = "JPEG"
    elif data.startswith(_PNG_MAGIC):
        expected = "PNG"
    else:
        raise PhotoError(_l("The photo must be a JPEG or PNG image."), field="photo")
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* between 1x and 2x its own pixel limit; treat that as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width * height > policy.photo_max_pixels:
                    raise PhotoError(
                        _l("The photo has too many pixels."), field="photo", code="photo_too_large"
                    )
                if min(width, height) < _MIN_SIDE:
                    raise PhotoError(_l("The photo is too small."), field="photo")
                if expected == "JPEG":
                    # Let libjpeg decode at a reduced scale (1/2, 1/4, 1/8) no smaller than the
                    # output size: a phone photo decodes several times faster.
                    image.draft("RGB", (policy.photo_max_width, policy.photo_max_height))
                image.load()
                # Both steps copy the pixels only when they have something to do: most
                # photos need no rotation and are RGB already.
                ImageOps.exif_transpose(image, in_place=True)
                rgb = image if image.mode == "RGB" else image.convert("RGB")
                # Bicubic with Pillow's reducing gap: as good as Lanczos at this scale, cheaper.
                rgb.thumbnail(
                    (policy.photo_max_width, policy.photo_max_height), Image.Resampling.BICUBIC
                )
                # A fresh JPEG from the pixels alone: no EXIF (GPS!), ICC profile or comment.
                rgb.info = {}
                out = io.BytesIO()
                rgb.save(out, format="JPEG", quality=policy.photo_quality, exif=b"")
    except PhotoError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ):
        # Pillow signals truncated or malformed files through all of these.
        raise PhotoError(_l("The photo file is damaged or not an image."), field="photo") from None
    return out.getvalue()
