"""What an import loads, seen from a fresh interpreter (the import-graph tests of the packages
that must stay apart: cardformat, webguard)."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_loaded_by(statements: str) -> set[str]:
    """The modules (full dotted names) that ``statements`` load into a fresh interpreter, beyond
    what the interpreter had loaded at start."""
    code = (
        "import json, sys; _before = set(sys.modules)\n"
        f"{statements}\n"
        "print(json.dumps(sorted(set(sys.modules) - _before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}
