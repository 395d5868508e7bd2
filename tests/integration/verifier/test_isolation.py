"""The verifier runs without cardservice code: a partner city installs and runs it alone.

It shares what both apps need behind a proxy through webguard, which imports neither app
(tests/unit/webguard/test_isolation.py); this checks the verifier's side of that graph."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Every module of the verifier, the logger its gunicorn loads (config/verifier.gunicorn.conf.py),
# and a built app answering a request: none of it may load cardservice.
_CODE = """
import importlib, pkgutil, sys
import verifier
for module in pkgutil.walk_packages(verifier.__path__, "verifier."):
    importlib.import_module(module.name)
importlib.import_module("webguard.gunicorn_logging")
app = verifier.create_app()
assert app.test_client().get("/healthz").status_code == 200
loaded = {name.split(".")[0] for name in sys.modules}
assert "cardservice" not in loaded, sorted(n for n in sys.modules if n.startswith("cardservice"))
assert {"verifier.agent", "verifier.cli", "verifier.commands", "webguard.proxy"} <= set(sys.modules)
"""


def test_verifier_imports_no_cardservice_code(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VERIFIER_ENV": "testing",
        "VERIFIER_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    subprocess.run([sys.executable, "-c", _CODE], check=True, env=env)
