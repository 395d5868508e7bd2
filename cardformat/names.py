"""The holder-name rule of docs/card-format.md section 3.2, in one place.

Issuers call ``validate_holder_name`` before signing, verifiers ``check_holder_name`` on what
they decoded, and the issuance service the same functions at enrolment, so that a name is
either acceptable everywhere or nowhere. Every refusal is an ``InvalidNameError`` (a
MalformedError) whose ``reason`` says which part of the rule failed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, NoReturn

from ._name_rule import MAX_MARK_RUN
from ._unicode14 import MARK_RANGES, NAME_FORBIDDEN_RANGES, UNICODE_VERSION
from .errors import MalformedError

MAX_NAME_BYTES = 100

NameProblem = Literal["type", "empty", "edge_space", "too_long", "forbidden", "marks", "not_nfc"]


class InvalidNameError(MalformedError):
    """A holder name the format refuses; ``reason`` names the rule and ``character`` the code
    point at fault, when there is one."""

    def __init__(self, reason: NameProblem, message: str, character: str | None = None) -> None:
        super().__init__(message)
        self.reason: NameProblem = reason
        self.character = character


# A name may not start or end with any of these: the Unicode White_Space characters plus
# U+001C-001F, listed here rather than taken from str.strip() so that the rule does not move
# with a Unicode version. Those among them forbidden anywhere are listed too.
NAME_EDGE_SPACES = frozenset(
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _ranges(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The first and last code points of ``FIRST-LAST`` hexadecimal ranges, in order."""
    pairs = [tuple(int(bound, 16) for bound in item.split("-")) for item in text.split(",")]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


# One byte per code point (1.1 MB): what the rule says of it. A table lookup per character is
# ten times cheaper than a binary search over the ranges, which showed on long names.
_OK, _FORBIDDEN, _MARK = 0, 1, 2
_CLASS = bytearray(0x110000)
for _table, _value in ((NAME_FORBIDDEN_RANGES, _FORBIDDEN), (MARK_RANGES, _MARK)):
    for _first, _last in zip(*_ranges(_table), strict=True):
        _CLASS[_first : _last + 1] = bytes([_value]) * (_last - _first + 1)
# The same table restricted to ASCII, for the names that are all ASCII (most of them): one
# regular-expression scan.
_ASCII_FORBIDDEN = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in range(0x80) if _CLASS[code] == _FORBIDDEN) + "]"
)


def is_forbidden(ch: str) -> bool:
    """Whether the name rule refuses the character ``ch`` anywhere in a name."""
    return _CLASS[ord(ch)] == _FORBIDDEN


def is_mark(ch: str) -> bool:
    """Whether ``ch`` is a combining mark (general category M in Unicode 14.0)."""
    return _CLASS[ord(ch)] == _MARK


def check_holder_name(name: str) -> None:
    """Raise InvalidNameError unless ``name`` satisfies section 3.2 exactly as it is (NFC
    included: a verifier refuses a name not in NFC rather than normalise it)."""
    if not isinstance(name, str):
        raise InvalidNameError("type", "the holder name must be text")
    if not name:
        raise InvalidNameError("empty", "the holder name is empty")
    if name[0] in NAME_EDGE_SPACES or name[-1] in NAME_EDGE_SPACES:
        raise InvalidNameError("edge_space", "the holder name starts or ends with a space")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidNameError(
            "too_long", f"the holder name is longer than {MAX_NAME_BYTES} UTF-8 bytes"
        )
    if name.isascii():
        found = _ASCII_FORBIDDEN.search(name)
        if found:
            _refuse(found.group())
        return
    run = 0
    table = _CLASS
    for ch in name:
        kind = table[ord(ch)]
        if kind == _FORBIDDEN:
            _refuse(ch)
        if kind == _MARK:
            run += 1
            if run > MAX_MARK_RUN:
                raise InvalidNameError(
                    "marks",
                    f"the holder name has more than {MAX_MARK_RUN} combining marks in a row",
                    ch,
                )
        else:
            run = 0
    # Checked last: only names whose every character is assigned in Unicode 14.0 get here, and
    # for those every Unicode version from 14.0 on gives the same answer.
    if not unicodedata.is_normalized("NFC", name):
        raise InvalidNameError("not_nfc", "the holder name is not in Unicode NFC")


def _refuse(ch: str) -> NoReturn:
    raise InvalidNameError(
        "forbidden",
        f"the holder name holds U+{ord(ch):04X}, which a name may not hold "
        f"(section 3.2, Unicode {UNICODE_VERSION})",
        ch,
    )


def validate_holder_name(name: str) -> str:
    """Return the name in NFC, or raise InvalidNameError saying what is wrong with it (for an
    issuer, which may normalise what it was given before signing)."""
    if not isinstance(name, str):
        raise InvalidNameError("type", "the holder name must be text")
    normalized = unicodedata.normalize("NFC", name)
    check_holder_name(normalized)
    return normalized
