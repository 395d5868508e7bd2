from __future__ import annotations

import subprocess
import sys


def test_cardformat_imports_no_framework() -> None:
    code = (
        "import sys, cardformat; "
        "leaked = {'flask', 'sqlalchemy', 'cardservice', 'verifier'} & set(sys.modules); "
        "assert not leaked, leaked"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cardformat_imports_only_stdlib_cryptography_and_cbor2() -> None:
    code = (
        "import sys; before = set(sys.modules); import cardformat; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "third = {m for m in new if m not in sys.stdlib_module_names and not m.startswith('_')}; "
        "assert third <= {'cardformat', 'cryptography', 'cbor2'}, third"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_conformance_kit_imports_only_stdlib_cryptography_and_cbor2() -> None:
    # A partner runs the kit with nothing installed beyond what cardformat needs.
    code = (
        "import sys; before = set(sys.modules); "
        "import cardformat.conformance, cardformat.conformance.__main__, "
        "cardformat.conformance.reference; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "third = {m for m in new if m not in sys.stdlib_module_names and not m.startswith('_')}; "
        "assert third <= {'cardformat', 'cryptography', 'cbor2'}, third"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
