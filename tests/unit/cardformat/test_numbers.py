from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardformat import MalformedError, generate_card_number, normalize_card_number
from cardformat.numbers import ALPHABET, MAX_VALUE, card_number_value, format_card_number


def test_generated_numbers_are_canonical_and_unambiguous() -> None:
    for _ in range(200):
        number = generate_card_number()
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{3}", number)
        assert normalize_card_number(number) == number


@given(st.integers(min_value=0, max_value=MAX_VALUE))
def test_value_round_trip(value: int) -> None:
    assert card_number_value(format_card_number(value)) == value


def test_input_is_forgiving_about_case_dashes_and_confusables() -> None:
    number = format_card_number(0)  # "0000-000"
    assert normalize_card_number("oooo ooo") == number
    one = format_card_number(1 + 32 + 32**2)
    assert normalize_card_number(one.lower().replace("1", "l").replace("-", "")) == one


@given(st.integers(min_value=0, max_value=MAX_VALUE), st.data())
def test_every_single_symbol_typo_is_caught(value: int, data: st.DataObject) -> None:
    symbols = format_card_number(value).replace("-", "")
    position = data.draw(st.integers(min_value=0, max_value=6))
    typo = data.draw(st.sampled_from([c for c in ALPHABET if c != symbols[position]]))
    with pytest.raises(MalformedError):
        normalize_card_number(symbols[:position] + typo + symbols[position + 1 :])


def test_adjacent_swaps_are_caught_at_least_30_times_in_32() -> None:
    caught = total = 0
    for value in range(0, MAX_VALUE, MAX_VALUE // 3000):
        symbols = format_card_number(value).replace("-", "")
        for i in range(6):
            if symbols[i] == symbols[i + 1]:
                continue
            swapped = symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]
            total += 1
            try:
                normalize_card_number(swapped)
            except MalformedError:
                caught += 1
    assert caught / total > 30 / 32


@pytest.mark.parametrize("text", ["", "ABCD-EF", "ABCD-EFGH", "ABCU-EFG", "x" * 40, "ABCD-EF!"])
def test_malformed_numbers_are_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        normalize_card_number(text)


@pytest.mark.parametrize("value", [-1, MAX_VALUE + 1])
def test_values_out_of_range_are_refused(value: int) -> None:
    with pytest.raises(MalformedError):
        format_card_number(value)
