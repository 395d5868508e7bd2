"""Server-side decoding of an uploaded photo of a card (the agent page's upload path).

Only a few raster formats are opened (Pillow's other plugins have had a long history of
parser bugs, and none is needed for a phone photo), the pixel count and the memory decoding will
take are bounded before any decoding, and the decoded text is handed to the verifier without
being logged.

Memory: a JPEG is decoded straight to grey at full resolution (libjpeg converts as it goes:
one byte per pixel and no copy, where RGB then grey took five); other formats decode in their
own mode (up to four bytes per pixel) and are then copied to grey (one more); the barcode
reader then takes about two bytes per pixel of its own. A progressive JPEG also makes libjpeg
keep every DCT coefficient (about three bytes per pixel with the usual sampling). The sum,
estimated from the header, is refused above ``max_decode_bytes``
(VERIFIER_MAX_IMAGE_DECODE_MB). A PNG reaches Pillow rebuilt from its pixel chunks alone. The
PNG rebuild, the JPEG segment walk and the coefficient estimate are webguard.images, shared with
the issuance service's photo intake; the limits and the error codes are the verifier's.
"""

from __future__ import annotations

import io
import struct
import warnings

import zxingcpp
from PIL import Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from webguard.images import (
    JPEG_MAGIC,
    PNG_MAGIC,
    jpeg_coefficient_bytes,
    jpeg_has_many_scans,
    pixel_bytes,
    png_pixels_only,
)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class ImageProblem(Exception):
    """The upload cannot be used; ``code`` says why (stable, for the client)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# What zxing-cpp allocates while it reads a grey image, per pixel (its own copy and binarised
# matrix), as measured by bench/bench_image_decode.py.
_READER_BYTES_PER_PIXEL = 2


def decode_qr(data: bytes, *, max_pixels: int, max_decode_bytes: int) -> str:
    """The text of the card QR code in the image; raises ImageProblem."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its bomb threshold and twice that; refuse them too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            many_scans = False
            if data.startswith(PNG_MAGIC):
                data = png_pixels_only(data)
            elif data.startswith(JPEG_MAGIC):
                many_scans = jpeg_has_many_scans(data)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageProblem("image_too_large")
            if isinstance(image, JpegImageFile):  # MpoImageFile too (phone photos)
                image.draft("L", None)  # grey from libjpeg itself, at full resolution
            if _decode_cost(image, many_scans) > max_decode_bytes:
                raise ImageProblem("image_too_large")
            image.load()
            gray = image if image.mode == "L" else image.convert("L")
    except ImageProblem:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageProblem("image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        # Truncated, corrupt or not an image at all (webguard.images.DamagedImage included).
        raise ImageProblem("unreadable_image") from None
    results = zxingcpp.read_barcodes(gray, formats=_QR_ONLY)
    texts = [result.text for result in results if result.valid and result.text]
    if not texts:
        raise ImageProblem("no_code_found")
    # A photo may catch another QR code too (a poster behind the card): prefer a card's.
    for text in texts:
        if text.startswith("MC"):
            return text
    return texts[0]


def _decode_cost(image: Image.Image, many_scans: bool) -> int:
    """Bytes the decoded image, its grey copy and the barcode reader's working copies hold
    (about 2 bytes per pixel, measured: bench/bench_image_decode.py), plus a progressive or
    multi-scan JPEG's coefficients (decoded at full size: no draft reduction here)."""
    pixels = image.size[0] * image.size[1]
    grey_copy = 0 if image.mode == "L" else 1
    cost = pixels * (pixel_bytes(image.mode) + grey_copy + _READER_BYTES_PER_PIXEL)
    return cost + jpeg_coefficient_bytes(image, image.size, many_scans)
