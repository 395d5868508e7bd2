"""The fast mask selection gives exactly the symbol the qrcode package itself would make."""

from __future__ import annotations

import random

import pytest
import qrcode
from qrcode import constants, util

from cardservice.printing import _qr

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def _reference(text: str) -> tuple[tuple[str, ...], int]:
    code = qrcode.QRCode(error_correction=constants.ERROR_CORRECT_M, border=0)
    code.add_data(util.QRData(text.encode("ascii"), mode=util.MODE_ALPHA_NUM))
    code.make(fit=True)
    rows = tuple("".join("1" if m else "0" for m in row) for row in code.modules)
    return rows, code.version


@pytest.mark.parametrize("seed", range(12))
def test_same_symbol_as_qrcode(seed: int) -> None:
    rnd = random.Random(seed)
    text = "MC1:" + "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 400)))
    rows, version = _reference(text)
    assert _qr.encode(text) == rows
    assert len(rows) == version * 4 + 17


def test_version_matches_best_fit_at_every_boundary() -> None:
    for length in range(1, 420):
        text = "A" * length
        code = qrcode.QRCode(error_correction=constants.ERROR_CORRECT_M)
        code.add_data(util.QRData(text.encode(), mode=util.MODE_ALPHA_NUM))
        assert _qr._alphanumeric_version(length) == code.best_fit(), length


def test_refuses_other_characters_and_oversized_texts() -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        _qr.encode("MC1:abc")
    with pytest.raises(ValueError, match="too long"):
        _qr.encode("A" * 800)
