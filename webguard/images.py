"""Untrusted image bytes: estimate the decoding cost from the headers, strip all but the pixels.

Both apps take photos from strangers (the counter's portrait, the agent page's photo of a card)
and both decode them with Pillow, whose cost is set by what the file declares, not by its size.
The parts here read the file's structure without decoding a pixel, so an app can refuse an
upload before it costs anything:

- ``png_pixels_only`` rebuilds a PNG from the chunks that carry its pixels: compressed text and
  ICC chunks (zTXt, iTXt, iCCP: up to 64 MB each once Pillow inflates them), animation frames
  and floods of tiny chunks (walked in Python) never reach Pillow;
- ``jpeg_has_many_scans`` tells from the segments whether libjpeg will buffer every DCT
  coefficient of the image (a progressive JPEG, or a baseline one with its components in
  separate scans), and ``jpeg_coefficient_bytes`` how large that buffer is;
- ``pixel_bytes`` is what Pillow stores per pixel of a mode.

What an app allows (pixel and memory limits, formats, error messages) stays in the app: a
broken file raises ``DamagedImage``, a ``ValueError`` each app maps to its own error.
"""

from __future__ import annotations

import re
import struct
import zlib

from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The PNG chunks that carry the pixels; IDAT is joined into one. Every other chunk is dropped
# unread unless the caller keeps it by name.
_PNG_PIXEL_CHUNKS = frozenset((b"IHDR", b"PLTE", b"tRNS", b"IDAT"))
# A camera JPEG has a dozen segments before its first scan; thousands are a CPU bomb for
# Pillow's marker loop, which runs in Python.
_MAX_JPEG_SEGMENTS = 256
# A marker: 0xFF, any number of 0xFF fill bytes, then the marker's code.
_JPEG_MARKER = re.compile(rb"\xff+[^\xff]")
# Bytes per pixel of Pillow's storage for a mode: one for 8-bit and bilevel, two for 16-bit
# grey, four for every other (RGB is stored as RGBX).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


class DamagedImage(ValueError):
    """The file's structure is broken (truncated, a bad checksum, no pixels, too many
    segments)."""


def png_pixels_only(data: bytes, keep: frozenset[bytes] = frozenset()) -> bytes:
    """The PNG ``data`` (starting with PNG_MAGIC) rebuilt from IHDR, PLTE, tRNS, the chunks
    named in ``keep`` (e.g. eXIf, for the orientation) and its image data as one IDAT. The kept
    chunks' checksums are verified; anything after IEND is ignored. Raises DamagedImage."""
    view = memoryview(data)
    kept = [PNG_MAGIC]
    image_data: list[memoryview] = []
    pos = len(PNG_MAGIC)
    while True:
        if pos + 12 > len(data):
            raise DamagedImage("truncated PNG")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise DamagedImage("truncated PNG")
        if kind == b"IEND":
            break
        if kind in _PNG_PIXEL_CHUNKS or kind in keep:
            (crc,) = struct.unpack_from(">I", data, end - 4)
            if zlib.crc32(view[pos + 4 : end - 4]) != crc:
                raise DamagedImage("broken PNG chunk")
            if kind == b"IDAT":
                image_data.append(view[pos + 8 : end - 4])
            else:
                kept.append(view[pos:end].tobytes())
        pos = end
    if not image_data:
        raise DamagedImage("PNG without image data")
    kept.append(_png_chunk(b"IDAT", b"".join(image_data)))
    kept.append(_png_chunk(b"IEND", b""))
    return b"".join(kept)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body))


def jpeg_has_many_scans(data: bytes) -> bool:
    """True when the main image of the JPEG ``data`` (starting with JPEG_MAGIC) has more than
    one scan (progressive, or baseline with components in separate scans), which makes libjpeg
    buffer the whole image's coefficients.

    Walks the segments up to the first scan, then looks for a second start-of-scan before the
    end-of-image marker: inside entropy-coded data a 0xFF byte is always followed by 0x00 or a
    restart marker, so the search cannot be fooled by the data. Raises DamagedImage."""
    pos = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        # Like Pillow, step over stray bytes between segments and over fill bytes.
        found = _JPEG_MARKER.search(data, pos)
        if found is None or found.end() + 2 > len(data):
            raise DamagedImage("broken JPEG")
        pos = found.end() - 2  # the 0xFF just before the marker byte
        marker = data[pos + 1]
        if marker == 0xDA:
            end = data.find(b"\xff\xd9", pos)
            return data.find(b"\xff\xda", pos + 2, end if end >= 0 else len(data)) >= 0
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    raise DamagedImage("too many JPEG segments")


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow stores per pixel of an image in ``mode``."""
    return _PIXEL_BYTES.get(mode, 4)


def jpeg_coefficient_bytes(image: Image.Image, full_size: tuple[int, int], many_scans: bool) -> int:
    """The coefficient buffer libjpeg holds while decoding ``image`` (opened, not decoded), 0
    unless it is a JPEG with several scans (``many_scans`` from jpeg_has_many_scans, or marked
    progressive): 2 bytes per sample of every component at its sampling, over the image's
    ``full_size`` (a reduced decoding with ``Image.draft`` still buffers them all)."""
    if not isinstance(image, JpegImageFile) or not (many_scans or image.info.get("progressive")):
        return 0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    pixels = full_size[0] * full_size[1]
    return sum(2 * pixels * layer[1] * layer[2] // (h_max * v_max) for layer in layers)
