"""Run the offline verifier's JavaScript unit tests (tests/js/) with node's test runner, so
``make test`` runs them too. They need node 20 or later (WebCrypto Ed25519, DecompressionStream).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_javascript_unit_tests_pass() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (scripts/system-packages.sh installs it)")
    result = subprocess.run(
        ["node", "--test", str(ROOT / "tests" / "js")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout  # it ran something
