from __future__ import annotations

import sys

from tests.unit.imports import modules_loaded_by, top_level


def test_cardformat_imports_no_framework() -> None:
    loaded = top_level(modules_loaded_by("import cardformat"))
    leaked = {"flask", "sqlalchemy", "cardservice", "verifier", "webguard"} & loaded
    assert not leaked, leaked


def test_cardformat_imports_only_stdlib_cryptography_and_cbor2() -> None:
    new = top_level(modules_loaded_by("import cardformat"))
    third = {m for m in new if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert third <= {"cardformat", "cryptography", "cbor2"}, third


def test_the_conformance_kit_imports_only_stdlib_cryptography_and_cbor2() -> None:
    # A partner runs the kit with nothing installed beyond what cardformat needs.
    new = top_level(
        modules_loaded_by(
            "import cardformat.conformance, cardformat.conformance.__main__, "
            "cardformat.conformance.reference"
        )
    )
    third = {m for m in new if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert third <= {"cardformat", "cryptography", "cbor2"}, third
