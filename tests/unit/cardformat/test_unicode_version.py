"""Names are judged against Unicode 14.0, whatever Unicode version the runtime carries.

NFC is stable from one Unicode version to the next only for characters already assigned, so the
format refuses code points unassigned in Unicode 14.0 (docs/card-format.md section 3.2). The
reference and the agent page carry the same table; both must match Unicode 14.0's data.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

import cardformat as cf
from cardformat._unicode14 import UNASSIGNED_RANGES, UNICODE_VERSION

VERIFY_JS = Path(__file__).resolve().parents[3] / "verifier" / "agent" / "static" / "verify.js"


def unassigned_now() -> str:
    """This runtime's Cn ranges, in the table's notation."""
    ranges, start = [], None
    for code in range(0x110000):
        if unicodedata.category(chr(code)) == "Cn":
            start = code if start is None else start
        elif start is not None:
            ranges.append(f"{start:X}-{code - 1:X}")
            start = None
    if start is not None:
        ranges.append(f"{start:X}-10FFFF")
    return ",".join(ranges)


def test_the_table_is_unicode_14s_unassigned_code_points() -> None:
    table = {
        code
        for item in UNASSIGNED_RANGES.split(",")
        for code in range(int(item.split("-")[0], 16), int(item.split("-")[1], 16) + 1)
    }
    if unicodedata.unidata_version == UNICODE_VERSION:
        assert unassigned_now() == UNASSIGNED_RANGES
    else:
        # A later Python assigns more, never fewer: what it leaves unassigned is in the table.
        assert unicodedata.unidata_version > UNICODE_VERSION
        now = unassigned_now()
        assert all(int(a, 16) in table for a, _ in (r.split("-") for r in now.split(",")))


def test_the_agent_page_carries_the_same_table() -> None:
    source = VERIFY_JS.read_text(encoding="utf-8")
    block = re.search(r"const UNASSIGNED_RANGES =\n(.*?);\n", source, re.S)
    assert block is not None
    assert "".join(re.findall(r'"([^"]*)"', block.group(1))) == UNASSIGNED_RANGES


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("Amina \U00011f00", True),  # Kawi, assigned in Unicode 15.0
        ("Amina \u0378", True),  # never assigned
        ("Amina \U0010fffd", True),  # private use, refused anyway
        ("Amina \u0870", False),  # Arabic, new in Unicode 14.0
        ("Nguyễn Thị Ánh", False),
        ("王秀英", False),
    ],
)
def test_names_with_code_points_unassigned_in_unicode_14_are_refused(
    name: str, refused: bool
) -> None:
    if refused:
        with pytest.raises(cf.MalformedError):
            cf.validate_holder_name(name)
    else:
        assert cf.validate_holder_name(name) == name
