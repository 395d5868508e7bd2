from __future__ import annotations

import importlib
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardformat import MalformedError, base45
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


# --- the C accelerator and the pure-Python reference accept exactly the same texts ----------


@pytest.fixture(scope="module")
def _accelerated() -> None:
    """The accelerator's tests fail, never skip, when it was not built (gcc is missing)."""
    if base45._accelerated_decode is None:
        pytest.fail("cardformat._base45 was not built: is gcc installed?")


requires_extension = pytest.mark.usefixtures("_accelerated")
# Texts near the edges: alphabet characters (the common case), the characters just outside it,
# non-ASCII, and the largest chunk values (":::" is 91124, above 65535; "GGW" is 65535).
_EDGE_TEXT = st.text(alphabet=ALPHABET + "@[`a~\x00\x7fé€:::GGW", max_size=40)


@requires_extension
@given(st.one_of(_EDGE_TEXT, st.text(max_size=40)), st.integers(min_value=-3, max_value=45))
def test_extension_agrees_with_the_reference(text: str, start: int) -> None:
    assert base45._accelerated_decode is not None
    accelerated = base45._accelerated_decode(text, start)
    if not (text.isascii() and 0 <= start <= len(text)):
        # Not even looked at: b45decode then asks the reference, which decides.
        assert accelerated is None
        return
    try:
        expected: bytes | None = base45.decode_python(text[start:])
    except MalformedError:
        expected = None
    assert accelerated == expected


@requires_extension
@pytest.mark.parametrize("text", ["GGW", "HGW", ":::", "FGW", "U5", "V5", "0", ""])
def test_extension_bounds(text: str) -> None:
    """65535 ("FGW") and 255 ("U5") are the largest values; one more is refused by both."""
    assert base45._accelerated_decode is not None
    try:
        expected: bytes | None = base45.decode_python(text)
    except MalformedError:
        expected = None
    assert base45._accelerated_decode(text, 0) == expected


@requires_extension
@pytest.mark.parametrize("arguments", [(b"AB", 0), ("AB",), ("AB", "0"), ("AB", 2**70)])
def test_extension_refuses_wrong_arguments(arguments: tuple[object, ...]) -> None:
    with pytest.raises((TypeError, OverflowError)):
        base45._accelerated_decode(*arguments)  # type: ignore[arg-type, misc]


@given(st.binary(max_size=100), st.text(alphabet=ALPHABET, max_size=8))
def test_start_skips_a_prefix_without_copying_it(data: bytes, prefix: str) -> None:
    assert b45decode(prefix + b45encode(data), len(prefix)) == data


def test_without_the_extension_the_reference_decodes_and_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Import the module afresh with the extension unavailable, as on a machine without a
    # C compiler, then restore the normal module for the other tests.
    monkeypatch.setitem(sys.modules, "cardformat._base45", None)
    fresh = importlib.reload(base45)
    try:
        assert fresh._accelerated_decode is None
        assert fresh.b45decode("MC1:BB8", 4) == b"AB"
        with pytest.raises(MalformedError, match="final pair"):
            fresh.b45decode("::")
    finally:
        monkeypatch.undo()
        importlib.reload(base45)
