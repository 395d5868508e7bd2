"""Base45 (RFC 9285), strict: anything that is not canonical base45 is refused.

Hand-written rather than taken from the `base45` package because verification is on the hot
path. Decoding has two implementations that accept exactly the same texts:
- ``_base45.c``, a small C extension built at install time when a compiler is present
  (about 0.15 us per card here): the verify-rate target needs it;
- the pure-Python decoder below (about 3.5 us per card: a few C-level byte operations on the
  whole string rather than a loop over chunks), which is the reference, serves where the
  extension was not built, and raises the precise error for any text the extension refuses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from .errors import MalformedError

_accelerated_decode: Callable[[str, int], bytes | None] | None
try:
    from ._base45 import decode as _accelerated_decode
except ImportError:  # installed without a C compiler: the pure-Python decoder serves alone
    _accelerated_decode = None

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 255
_VALUES = bytearray([_INVALID]) * 256
for _i, _c in enumerate(ALPHABET):
    _VALUES[ord(_c)] = _i
_TRANSLATE = bytes(_VALUES)


def b45encode(data: bytes) -> str:
    chars: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        chars += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        chars += (ALPHABET[c], ALPHABET[d])
    return "".join(chars)


def b45decode(text: str, start: int = 0) -> bytes:
    """Decode the base45 text ``text[start:]``, raising MalformedError on any character, length
    or value error. ``start`` spares the caller a copy of the text after its prefix."""
    if _accelerated_decode is not None:
        decoded = _accelerated_decode(text, start)
        if decoded is not None:
            return decoded
    return decode_python(text[start:])


def decode_python(text: str) -> bytes:
    """The reference decoder (see the module docstring): the same result as the extension for
    valid text, and the error for invalid text."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedError("base45 text holds a non-ASCII character") from None
    values = raw.translate(_TRANSLATE)
    if _INVALID in values:
        raise MalformedError("base45 text holds a character outside the base45 alphabet")
    chunks, rest = divmod(len(values), 3)
    if rest == 1:
        raise MalformedError("base45 text has an impossible length")
    full = chunks * 3
    # Each 3-character chunk c, d, e stands for c + 45*d + 45^2*e, sent as two bytes. Place the
    # chunks' digits in 32-bit lanes of one big integer (e, d, c in its three low bytes), then
    # combine all lanes at once with masks; no lane can carry into the next (max 91124 < 2^32).
    lanes = bytearray(4 * chunks)
    lanes[3::4] = values[0:full:3]
    lanes[2::4] = values[1:full:3]
    lanes[1::4] = values[2:full:3]
    digits = int.from_bytes(lanes, "big")
    mask = _lane_mask(chunks)
    total = (digits & mask) + 45 * ((digits >> 8) & mask) + 2025 * ((digits >> 16) & mask)
    lanes = bytearray(total.to_bytes(4 * chunks, "big"))
    if lanes[1::4].count(0) != chunks:  # a chunk above 65535 is not canonical base45
        raise MalformedError("base45 chunk value out of range")
    out = bytearray(2 * chunks + (rest == 2))
    out[0 : 2 * chunks : 2] = lanes[2::4]
    out[1 : 2 * chunks : 2] = lanes[3::4]
    if rest == 2:
        value = values[full] + 45 * values[full + 1]
        if value > 255:
            raise MalformedError("base45 final pair value out of range")
        out[-1] = value
    return bytes(out)


@functools.cache
def _lane_mask(chunks: int) -> int:
    """0x000000FF repeated once per 32-bit lane."""
    return int.from_bytes(b"\0\0\0\xff" * chunks, "big")
