"""Server-side decoding of an uploaded photo of a card (the agent page's upload path).

Only a few raster formats are opened (Pillow's other plugins have had a long history of
parser bugs, and none is needed for a phone photo), the pixel count is bounded before any
decoding, and the decoded text is handed to the verifier without being logged.
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


def decode_qr(data: bytes, *, max_pixels: int) -> str:
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
            image.load()
            gray = image.convert("L")
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
