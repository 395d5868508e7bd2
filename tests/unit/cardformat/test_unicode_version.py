"""The holder-name rule is judged against Unicode 14.0, whatever Unicode version the runtime has.

NFC is stable from one Unicode version to the next only for characters already assigned, so the
format refuses code points unassigned in Unicode 14.0, and it states its other character classes
(controls, format characters, combining marks) by their Unicode 14.0 general category
(docs/card-format.md section 3.2). The reference and the agent page carry the same generated
tables (scripts/unicode14_tables.py); both must match Unicode 14.0's data and the rule's
definition in cardformat/_name_rule.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import unicodedata
from pathlib import Path

import pytest

import cardformat as cf
from cardformat import _name_rule
from cardformat._unicode14 import MARK_RANGES, NAME_FORBIDDEN_RANGES, UNICODE_VERSION
from cardformat.names import InvalidNameError, check_holder_name

ROOT = Path(__file__).resolve().parents[3]
VERIFY_JS = ROOT / "verifier" / "agent" / "static" / "verify.js"


def codes(table: str) -> set[int]:
    return {
        code
        for item in table.split(",")
        for code in range(int(item.split("-")[0], 16), int(item.split("-")[1], 16) + 1)
    }


def generator() -> object:
    spec = importlib.util.spec_from_file_location("tables", ROOT / "scripts/unicode14_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tables"] = module
    spec.loader.exec_module(module)
    return module


def test_the_tables_are_what_the_generator_makes_from_unicode_14() -> None:
    if unicodedata.unidata_version != UNICODE_VERSION:
        # Regenerating needs Unicode 14.0 data (Python 3.11); on a later Python the next test
        # still checks the table against the rule.
        assert unicodedata.unidata_version > UNICODE_VERSION
        return
    made = generator().tables()  # type: ignore[attr-defined]
    assert made == {"NAME_FORBIDDEN_RANGES": NAME_FORBIDDEN_RANGES, "MARK_RANGES": MARK_RANGES}


def test_the_forbidden_table_follows_the_rule() -> None:
    forbidden = codes(NAME_FORBIDDEN_RANGES)
    # Every code point a later Unicode still leaves unassigned is refused (a later Python
    # assigns more, never fewer, so this holds on every runtime from 14.0 on).
    assert unicodedata.unidata_version >= UNICODE_VERSION
    for code in range(0x110000):
        ch = chr(code)
        category = unicodedata.category(ch)
        if category == "Cn" or (category in {"Cc", "Cs", "Co", "Zl", "Zp"}):
            assert code in forbidden, f"U+{code:04X}"
    assert not forbidden & {0x200C, 0x200D}
    assert {ord(c) for c in _name_rule.FORBIDDEN_SYMBOLS} <= forbidden
    assert {0xAD, 0x180E, 0x200B, 0x2060, 0x2064, 0xFEFF, 0xE0001, 0xFDFD, 0xFDF2} <= forbidden
    # Nothing a name needs: letters, digits, the punctuation of names.
    for ch in "AZaz09 '-.,()&/\u00e9\u0644\u05d0\u0905\u0d05\u4e00\uac00\u00a0":
        assert ord(ch) not in forbidden, ch


@pytest.mark.parametrize("key", ["NAME_FORBIDDEN_RANGES", "MARK_RANGES"])
def test_the_agent_page_carries_the_same_tables(key: str) -> None:
    source = VERIFY_JS.read_text(encoding="utf-8")
    block = re.search(rf"const {key} =\n(.*?);\n", source, re.S)
    assert block is not None
    table = {"NAME_FORBIDDEN_RANGES": NAME_FORBIDDEN_RANGES, "MARK_RANGES": MARK_RANGES}[key]
    assert "".join(re.findall(r'"([^"]*)"', block.group(1))) == table
    assert f"const MAX_MARK_RUN = {_name_rule.MAX_MARK_RUN};" in source


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Amina \U00011f00", "forbidden"),  # Kawi, assigned in Unicode 15.0
        ("Amina \u0378", "forbidden"),  # never assigned
        ("Amina \U0010fffd", "forbidden"),  # private use
        ("Amina\u00adDiallo", "forbidden"),  # soft hyphen, Cf
        ("Amina\u200bDiallo", "forbidden"),  # zero width space, Cf
        ("Amina\u2063Diallo", "forbidden"),  # invisible separator, Cf
        ("\ufeffAmina", "forbidden"),  # byte order mark, Cf
        ("Amina\U000e0067", "forbidden"),  # tag, Cf
        ("Amina\x9bDiallo", "forbidden"),  # C1 control
        ("Amina {Diallo}", "forbidden"),  # markup
        ("Abd \ufdf2", "forbidden"),  # word ligature
        ("Diax\u0300\u0301\u0302\u0303\u0304", "marks"),
        ("Diax\u0300\u0301\u0302\u0303\u0304\u0305\u0306", "marks"),
        ("e\u0301", "not_nfc"),
        ("", "empty"),
        (" Amina", "edge_space"),
        ("A" * 101, "too_long"),
    ],
)
def test_names_the_rule_refuses(name: str, reason: str) -> None:
    with pytest.raises(InvalidNameError) as refused:
        check_holder_name(name)
    assert refused.value.reason == reason
    assert refused.value.code == "malformed"


@pytest.mark.parametrize(
    "name",
    [
        "Amina \u0870",  # Arabic, new in Unicode 14.0
        "Nguyễn Thị Ánh",
        "王秀英",
        "\u0645\u0647\u200c\u0633\u0627",  # ZWNJ
        "\u0d05\u0d28\u0d4d\u200d",  # ZWJ (Malayalam chillu)
        "Diax\u0300\u0301\u0302\u0303",  # four marks: the most
        "Diax\u0300\u0301\u0302\u0303 x\u0300\u0301\u0302\u0303",  # runs count apart
        "N'Diaye-Diallo, A. J.",
        "m" * 100,
    ],
)
def test_names_the_rule_accepts(name: str) -> None:
    check_holder_name(name)
    assert cf.validate_holder_name(name) == name
