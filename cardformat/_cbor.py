"""Byte-exact CBOR encoding for the fixed structures on the verification hot path.

cbor2 decodes everything; these few helpers *encode* the card's structures directly, because
every received token is re-encoded to check it is in deterministic encoding (RFC 8949 section
4.2.1), and doing that through cbor2 cost more than a fifth of an Ed25519 verification.
"""

from __future__ import annotations

import struct

MAJOR_UINT = 0
MAJOR_NINT = 1
MAJOR_BYTES = 2
MAJOR_TEXT = 3
MAJOR_ARRAY = 4
MAJOR_MAP = 5
MAJOR_TAG = 6
NULL = b"\xf6"


def head(major: int, argument: int) -> bytes:
    """The shortest initial bytes for a major type and its argument."""
    if argument < 0x100:
        return _SMALL_HEADS[major << 8 | argument]
    if argument < 0x10000:
        return _HEAD_2(major << 5 | 25, argument)
    if argument < 0x1_0000_0000:
        return _HEAD_4(major << 5 | 26, argument)
    if argument < 0x1_0000_0000_0000_0000:
        return _HEAD_8(major << 5 | 27, argument)
    raise OverflowError("a CBOR head argument is at most 64 bits")


_HEAD_2 = struct.Struct(">BH").pack
_HEAD_4 = struct.Struct(">BI").pack
_HEAD_8 = struct.Struct(">BQ").pack


def integer(value: int) -> bytes:
    if 0 <= value < 0x100:
        return _SMALL_HEADS[value]  # major type 0
    return head(MAJOR_UINT, value) if value >= 0 else head(MAJOR_NINT, -1 - value)


def byte_string(value: bytes) -> bytes:
    return head(MAJOR_BYTES, len(value)) + value


def text_string(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return head(MAJOR_TEXT, len(encoded)) + encoded


def _small_head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes((major << 5 | argument,))
    return bytes((major << 5 | 24, argument))


# Every head whose argument fits in one byte, indexed by major << 8 | argument: lengths of
# names and keys, small integers. The hot path builds a dozen heads per card.
_SMALL_HEADS = [_small_head(major, argument) for major in range(8) for argument in range(0x100)]
