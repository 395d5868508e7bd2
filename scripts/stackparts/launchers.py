"""What runs the stack's apps: the ``Launcher`` protocol and this checkout's virtualenv."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

BIN = Path(sys.executable).parent

Command = tuple[list[str], dict[str, str]]  # argument list and environment of a process to start


class Launcher(Protocol):
    """How the stack runs an app ("cardservice" or "verifier"). ``settings`` are only the
    stack's own variables (``CARDSERVICE_*``, ``VERIFIER_*``, ``SSL_CERT_FILE``, ...); the
    launcher adds the environment around them. Paths in them lie inside ``folder``, the stack's."""

    def server(self, app: str, name: str, settings: dict[str, str], folder: Path) -> Command:
        """The app's server, listening where its ``*_BIND`` setting says."""
        ...

    def tool(self, app: str, argv: list[str], settings: dict[str, str], folder: Path) -> Command:
        """A command of the app's installation (``argv[0]`` is e.g. ``cardservice``)."""
        ...


class VenvLauncher:
    """This checkout's virtualenv: gunicorn with config/, the apps' command-line tools."""

    def server(self, app: str, name: str, settings: dict[str, str], folder: Path) -> Command:
        config = {"cardservice": "gunicorn.conf.py", "verifier": "verifier.gunicorn.conf.py"}[app]
        args = [str(BIN / "gunicorn"), "--config", f"config/{config}"]
        args += self._own_files(name, folder)
        return [*args, f"{app}:create_app()"], _host_env() | settings

    def tool(self, app: str, argv: list[str], settings: dict[str, str], folder: Path) -> Command:
        return [str(BIN / argv[0]), *argv[1:]], _host_env() | settings

    @staticmethod
    def _own_files(name: str, folder: Path) -> list[str]:
        """A pid file in the stack's folder (so `down` can tell its processes by their command
        line) and, on recent gunicorns, a control socket there too: by default they all open one
        at the same path per user, which several gunicorns on one machine cannot share."""
        from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

        args = ["--pid", str(folder / f"{name}.pid")]
        if any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
            args += ["--control-socket", str(folder / f"{name}.ctl")]
        return args


def _host_env() -> dict[str, str]:
    """This process's environment without any app setting: the stack's are the only ones."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARDSERVICE_", "VERIFIER_"))
    }
