"""boot.sh started outside a container, as an operator starts it, for the tests that run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


def start_boot_script(**settings: str) -> subprocess.Popen[bytes]:
    """boot.sh with this process's environment minus its CARDSERVICE_ settings, ``settings``
    instead, and this virtualenv's tools first on PATH. Its output is piped (stderr into stdout);
    it runs in a session of its own, so a signal to its process group reaches gunicorn's workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", **settings)
    return subprocess.Popen(
        [str(ROOT / "boot.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
