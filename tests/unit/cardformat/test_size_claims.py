"""The size table of docs/card-format.md section 1 holds for every value the format accepts.

A card's length depends only on the encoded length of each value, which is largest at each
field's limits; every combination of limits is signed here and measured, including the
longest name, and the QR version is computed by the same library the card printer uses.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
import qrcode
import qrcode.util

import cardformat as cf
from cardformat.base45 import b45decode
from cardformat.token import MAX_BIRTH_DAY, MAX_NUMERIC_DATE, MIN_BIRTH_DAY

KEY = cf.generate_key()
EPOCH = date(1970, 1, 1)
# holder name bytes: (token bytes, text characters, QR version at level M), at most
TABLE = {40: (171, 261, 9), 60: (191, 291, 10), cf.MAX_NAME_BYTES: (231, 351, 11)}
# Every value at its limits, and the cases in between that change an encoded length.
ISSUED = [0, 2**32 - 2]
EXPIRES = [1, MAX_NUMERIC_DATE]
NUMBERS = ["0000-000", "ZZZZ-ZZ6"]  # 0 and 2^30 - 1
INDICES = [0, 2**32 - 1]
BIRTHS = [None, EPOCH + timedelta(MIN_BIRTH_DAY), EPOCH + timedelta(MAX_BIRTH_DAY), EPOCH]
# Names of n bytes in 1-, 2-, 3- and 4-byte characters: only the byte count matters.
FILLERS = ["A", "é", "山", "\U00020000"]


def qr_version(text: str) -> int:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(qrcode.util.QRData(text.encode("ascii"), mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    return int(code.version)


def name_of(n: int, filler: str) -> str:
    width = len(filler.encode())
    return filler * (n // width) + "A" * (n % width)


def card_text(
    name: str, issued: int, expires: int, number: str, index: int, birth: date | None
) -> str:
    card = cf.Card(number=number, holder_name=name, birth_date=birth, status_index=index)
    return cf.sign_card(
        card,
        issuer="FR SXB",
        signing_key=KEY,
        now=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@pytest.mark.parametrize("name_bytes", sorted(TABLE))
def test_the_size_table_holds_at_every_limit(name_bytes: int) -> None:
    most_bytes, most_chars, most_version = TABLE[name_bytes]
    sizes = set()
    for filler, issued, expires, number, index, birth in itertools.product(
        FILLERS, ISSUED, EXPIRES, NUMBERS, INDICES, BIRTHS
    ):
        if issued >= expires:
            continue
        name = name_of(name_bytes, filler)
        assert len(name.encode()) == name_bytes
        text = card_text(name, issued, expires, number, index, birth)
        sizes.add((len(b45decode(text[4:])), len(text)))
    token_bytes, characters = max(sizes)
    # The table gives the largest: reached, never exceeded.
    assert (token_bytes, characters) == (most_bytes, most_chars)
    longest = card_text(
        name_of(name_bytes, "A"), ISSUED[1], EXPIRES[1], NUMBERS[1], INDICES[1], BIRTHS[1]
    )
    assert len(longest) == most_chars
    assert qr_version(longest) == most_version


def test_the_longest_card_is_far_below_the_input_limit() -> None:
    assert TABLE[cf.MAX_NAME_BYTES][1] < cf.MAX_TEXT_LENGTH
    one_more = name_of(cf.MAX_NAME_BYTES + 1, "A")
    with pytest.raises(cf.MalformedError):
        card_text(one_more, 0, 1, "0000-000", 0, None)
    with pytest.raises(cf.MalformedError):
        card_text("A", 0, MAX_NUMERIC_DATE + 1, "0000-000", 0, None)
    # Python's dates stop where the format's do: no date before 0001-01-01 exists to sign.
    with pytest.raises(OverflowError):
        EPOCH + timedelta(MIN_BIRTH_DAY - 1)
