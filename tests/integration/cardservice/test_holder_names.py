"""One name rule: enrolment accepts exactly the names the card format accepts (docs/card-format.md
section 3.2), refusing beyond it only a name in a script no card font draws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cardformat
from cardformat._unicode14 import NAME_FORBIDDEN_RANGES
from cardservice.printing import unsupported_characters
from cardservice.services.holder_names import check_display_name

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "cards.json"


def _valid_vector_names() -> list[str]:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
    return sorted({v["claims"]["holder_name"] for v in vectors if v["expected"] == "valid"})


@pytest.mark.parametrize("name", _valid_vector_names())
def test_every_name_of_the_valid_vectors_is_accepted(name: str) -> None:
    clean, error = check_display_name(name)
    if error is not None:
        # The one refusal the format does not make: a script the card's fonts do not draw.
        assert unsupported_characters(name), (name, str(error))
        assert "cannot print" in str(error)
    else:
        assert clean == name


def _forbidden_samples() -> list[str]:
    """The first and last code point of every forbidden range (surrogates excepted: a JSON or
    form body cannot carry a lone one into a Python str that reaches this check)."""
    samples = []
    for item in NAME_FORBIDDEN_RANGES.split(","):
        first, last = (int(bound, 16) for bound in item.split("-"))
        samples += [chr(code) for code in {first, last} if not 0xD800 <= code <= 0xDFFF]
    return samples


def test_every_forbidden_character_is_refused_at_enrolment() -> None:
    for ch in _forbidden_samples():
        name = f"Amina{ch}Diallo"
        with pytest.raises(cardformat.InvalidNameError):
            cardformat.check_holder_name(name)
        _clean, error = check_display_name(name)
        # Spaces around it are tidied away first, the character itself is still refused.
        assert error is not None, f"U+{ord(ch):04X}"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Amina\u200bDiallo", "invisible"),
        ("Amina\ufeffDiallo", "invisible"),
        ("Amina\tDiallo", "invisible"),  # a control, not a space to tidy
        ("Amina <b>Diallo</b>", "not used in names"),
        ("Abd \ufdf2", "not used in names"),
        ("Diax\u0300\u0301\u0302\u0303\u0304", "accents"),
        ("A" * 101, "too long"),
    ],
)
def test_refusals_say_why(name: str, message: str) -> None:
    _clean, error = check_display_name(name)
    assert error is not None and message in str(error)


def test_joiners_and_four_marks_are_accepted() -> None:
    for name in ("مهرداد نیک\u200cن\u0627م", "क्\u200dष्मा राणा", "Diax\u0300\u0301\u0302\u0303"):
        assert check_display_name(name) == (name, None)
