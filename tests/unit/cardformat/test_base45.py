from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardformat import MalformedError
from cardformat.base45 import ALPHABET, b45decode, b45encode

from .conftest import load_vectors

RFC = load_vectors("standards/base45.json")


@pytest.mark.parametrize("case", RFC["encode"], ids=lambda c: c["base45"])
def test_rfc9285_encode(case: dict[str, str]) -> None:
    assert b45encode(case["bytes_utf8"].encode()) == case["base45"]
    assert b45decode(case["base45"]) == case["bytes_utf8"].encode()


@pytest.mark.parametrize("case", RFC["decode"], ids=lambda c: c["base45"])
def test_rfc9285_decode(case: dict[str, str]) -> None:
    assert b45decode(case["base45"]) == case["bytes_utf8"].encode()


@pytest.mark.parametrize("text", RFC["invalid"])
def test_rfc9285_invalid_strings_are_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        b45decode(text)


@pytest.mark.parametrize("text", ["ÀBC", "AB\x00", "::", "A B C D"[:4]])
def test_non_alphabet_or_out_of_range_input_is_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        b45decode(text)


def test_final_pair_above_255_is_refused() -> None:
    with pytest.raises(MalformedError, match="final pair"):
        b45decode("::")  # 44 + 45 * 44 > 255


@given(st.binary(max_size=400))
def test_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_any_alphabet_text_decodes_or_raises_malformed(text: str) -> None:
    try:
        data = b45decode(text)
    except MalformedError:
        return
    assert b45encode(data) == text  # whatever decodes is canonical
