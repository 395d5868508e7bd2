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
(VERIFIER_MAX_IMAGE_DECODE_MB). A PNG reaches Pillow rebuilt from its pixel chunks alone.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

import zxingcpp
from PIL import Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class ImageProblem(Exception):
    """The upload cannot be used; ``code`` says why (stable, for the client)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# A camera JPEG has a dozen segments before its first scan; thousands are a CPU bomb for
# Pillow's marker loop, which runs in Python.
_MAX_JPEG_SEGMENTS = 256
# A marker: 0xFF, any number of 0xFF fill bytes, then the marker's code.
_JPEG_MARKER = re.compile(rb"\xff+[^\xff]")
# The PNG chunks that carry the pixels; every other one is dropped unread.
_PNG_PIXEL_CHUNKS = frozenset((b"IHDR", b"PLTE", b"tRNS", b"IDAT"))
# What zxing-cpp allocates while it reads a grey image, per pixel (its own copy and binarised
# matrix), as measured by bench/bench_image_decode.py.
_READER_BYTES_PER_PIXEL = 2
# Bytes per pixel of Pillow's storage: one for 8-bit and bilevel modes, four for most others.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def decode_qr(data: bytes, *, max_pixels: int, max_decode_bytes: int) -> str:
    """The text of the card QR code in the image; raises ImageProblem."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its bomb threshold and twice that; refuse them too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            many_scans = False
            if data.startswith(_PNG_MAGIC):
                data = _png_pixels_only(data)
            elif data.startswith(_JPEG_MAGIC):
                many_scans = _jpeg_has_many_scans(data)
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


def _decode_cost(image: Image.Image, many_scans: bool) -> int:
    """Bytes the decoded image, its grey copy and the barcode reader's working copies hold
    (about 2 bytes per pixel, measured: bench/bench_image_decode.py), plus a progressive JPEG's
    coefficients, or a multi-scan one's (2 bytes per sample of every component, at its
    sampling)."""
    pixels = image.size[0] * image.size[1]
    grey_copy = 0 if image.mode == "L" else 1
    cost = pixels * (_PIXEL_BYTES.get(image.mode, 4) + grey_copy + _READER_BYTES_PER_PIXEL)
    if isinstance(image, JpegImageFile) and (many_scans or image.info.get("progressive")):
        layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
        h_max = max(layer[1] for layer in layers)
        v_max = max(layer[2] for layer in layers)
        cost += sum(2 * pixels * layer[1] * layer[2] // (h_max * v_max) for layer in layers)
    return cost


def _png_pixels_only(data: bytes) -> bytes:
    """The PNG rebuilt from its pixel chunks alone, the image data as one IDAT, checksums
    verified: Pillow would otherwise inflate compressed text and ICC chunks (up to 64 MB per
    file) and walk floods of tiny chunks in Python; animation frames go too (the first image
    is the one decoded). The issuance service's photo intake does the same
    (cardservice/services/photos.py); the verifier runs without cardservice, hence this copy.
    Raises ValueError for a broken file."""
    view = memoryview(data)
    header: list[bytes] = [_PNG_MAGIC]
    pixels: list[memoryview] = []
    pos = len(_PNG_MAGIC)
    while True:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG")
        if kind == b"IEND":
            break
        if kind in _PNG_PIXEL_CHUNKS:
            (crc,) = struct.unpack_from(">I", data, end - 4)
            if zlib.crc32(view[pos + 4 : end - 4]) != crc:
                raise ValueError("broken PNG chunk")
            if kind == b"IDAT":
                pixels.append(view[pos + 8 : end - 4])
            else:
                header.append(view[pos:end].tobytes())
        pos = end
    body = b"".join(pixels)
    idat = struct.pack(">I4s", len(body), b"IDAT") + body
    idat += struct.pack(">I", zlib.crc32(idat[4:]))
    return b"".join((*header, idat, b"\x00\x00\x00\x00IEND\xaeB`\x82"))


def _jpeg_has_many_scans(data: bytes) -> bool:
    """True when the JPEG's main image has more than one scan (progressive, or baseline with
    components in separate scans), which makes libjpeg buffer every coefficient. Walks the
    segments to the first scan, then looks for a second start-of-scan before the end of the
    image (in entropy-coded data 0xFF is always followed by 0x00 or a restart marker). The
    same walk as the issuance service's (cardservice/services/photos.py). Raises ValueError."""
    pos = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        # Like Pillow, step over stray bytes between segments and over fill bytes.
        found = _JPEG_MARKER.search(data, pos)
        if found is None or found.end() + 2 > len(data):
            raise ValueError("broken JPEG")
        pos = found.end() - 2  # the 0xFF just before the marker byte
        marker = data[pos + 1]
        if marker == 0xDA:
            end = data.find(b"\xff\xd9", pos)
            return data.find(b"\xff\xda", pos + 2, end if end >= 0 else len(data)) >= 0
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    raise ValueError("too many JPEG segments")
