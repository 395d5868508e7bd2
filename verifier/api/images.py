"""Server-side decoding of an uploaded photo of a card (the agent page's upload path).

Only a few raster formats are opened (Pillow's other plugins have had a long history of
parser bugs, and none is needed for a phone photo), the pixel count and the memory decoding will
take are bounded before any decoding, and the decoded text is handed to the verifier without
being logged.

Memory: a JPEG is decoded straight to grey at full resolution (libjpeg converts as it goes:
one byte per pixel and no copy, where RGB then grey took five); other formats decode in their
own mode (up to four bytes per pixel) and are then copied to grey (one more). A progressive JPEG
also makes libjpeg keep every DCT coefficient (about three bytes per pixel with the usual
sampling). The sum, estimated from the header, is refused above ``max_decode_bytes``
(VERIFIER_MAX_IMAGE_DECODE_MB).
"""

from __future__ import annotations

import io
import warnings

import zxingcpp
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class ImageProblem(Exception):
    """The upload cannot be used; ``code`` says why (stable, for the client)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Bytes per pixel of Pillow's storage: one for 8-bit and bilevel modes, four for most others.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def decode_qr(data: bytes, *, max_pixels: int, max_decode_bytes: int) -> str:
    """The text of the card QR code in the image; raises ImageProblem."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its bomb threshold and twice that; refuse them too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageProblem("image_too_large")
            if image.format == "JPEG":
                image.draft("L", None)  # grey from libjpeg itself, at full resolution
            if _decode_cost(image) > max_decode_bytes:
                raise ImageProblem("image_too_large")
            image.load()
            gray = image if image.mode == "L" else image.convert("L")
    except ImageProblem:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageProblem("image_too_large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        # Truncated, corrupt or not an image at all.
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


def _decode_cost(image: Image.Image) -> int:
    """Bytes the decoded image and its grey copy hold, plus a progressive JPEG's coefficients
    (2 bytes per sample of every component, at its sampling)."""
    pixels = image.size[0] * image.size[1]
    cost = pixels * (_PIXEL_BYTES.get(image.mode, 4) + (0 if image.mode == "L" else 1))
    if image.format == "JPEG" and image.info.get("progressive"):
        layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
        h_max = max(layer[1] for layer in layers)
        v_max = max(layer[2] for layer in layers)
        cost += sum(2 * pixels * layer[1] * layer[2] // (h_max * v_max) for layer in layers)
    return cost
