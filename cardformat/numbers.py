"""Card numbers people can read aloud and type: 6 symbols and a check symbol, "XXXX-XXX".

The alphabet is Crockford's base32 (no I, L, O or U), so nothing on the card can be confused;
on input, O reads as 0 and I or L as 1, as Crockford recommends. The check symbol is Luhn mod 32,
which catches every single-symbol typo and every swap of two adjacent symbols but one in 32.
In the token the number travels as its 30-bit integer, which saves the bytes that keep a
40-byte name inside a version 9 QR code (see docs/card-format.md).
"""

from __future__ import annotations

import secrets

from .errors import MalformedError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DATA_SYMBOLS = 6
MAX_VALUE = 32**DATA_SYMBOLS - 1  # 30 bits
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_INPUT_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _check_symbol(symbols: str) -> str:
    """Luhn mod N over the alphabet, N = 32, doubling from the rightmost data symbol."""
    return ALPHABET[-_luhn_sum(symbols, 2) % 32]


def format_card_number(value: int) -> str:
    if not 0 <= value <= MAX_VALUE:
        raise MalformedError("card number out of range")
    # Three lookups of two symbols each, with their share of the check sum precomputed: this
    # runs once per verified card.
    high, rest = divmod(value, 1 << 20)
    middle, low = divmod(rest, 1 << 10)
    total = _PAIR_CHECK[high] + _PAIR_CHECK[middle] + _PAIR_CHECK[low]
    symbols = _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]
    return f"{symbols[:4]}-{symbols[4:]}{ALPHABET[-total % 32]}"


def _luhn_sum(symbols: str, first_factor: int) -> int:
    total, factor = 0, first_factor
    for ch in reversed(symbols):
        addend = factor * _VALUE[ch]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return total


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
# Luhn factors run 2, 1, 2, ... from the rightmost data symbol: every pair sees the same two
# factors, so one table of pair sums serves all three positions.
_PAIR_CHECK = [_luhn_sum(pair, 2) for pair in _PAIRS]


def card_number_value(number: str) -> int:
    """The integer a canonical card number stands for (its check symbol already validated)."""
    canonical = normalize_card_number(number)
    value = 0
    for ch in canonical.replace("-", "")[:DATA_SYMBOLS]:
        value = value * 32 + _VALUE[ch]
    return value


def normalize_card_number(text: str) -> str:
    """Canonical "XXXX-XXX" from what a person typed; MalformedError if it cannot be a number."""
    if not isinstance(text, str) or len(text) > 32:
        raise MalformedError("a card number has 7 symbols")
    symbols = "".join(ch for ch in text.upper() if ch not in " -").translate(_INPUT_ALIASES)
    if len(symbols) != DATA_SYMBOLS + 1 or any(ch not in _VALUE for ch in symbols):
        raise MalformedError("a card number has 7 symbols")
    if _check_symbol(symbols[:DATA_SYMBOLS]) != symbols[DATA_SYMBOLS]:
        raise MalformedError("the card number's check symbol does not match: a typo?")
    return f"{symbols[:4]}-{symbols[4:]}"


def generate_card_number() -> str:
    """A random card number; callers must still check it is unused."""
    return format_card_number(secrets.randbelow(MAX_VALUE + 1))
