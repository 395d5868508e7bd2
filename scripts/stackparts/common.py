"""What every part of the stack shares: the checkout, the address it listens on, free ports,
private files, and the one error it raises."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack could not start; the message says which part and why."""


def free_port(host: str = HOST) -> int:
    """A port free now: from STACK_PORTS (e.g. 20000-20999) when set, else any the system picks."""
    lowest, _, highest = os.environ.get("STACK_PORTS", "0-0").partition("-")
    for _ in range(200):
        port = secrets.choice(range(int(lowest), int(highest) + 1)) if int(lowest) else 0
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StackError(f"no free port in STACK_PORTS={os.environ['STACK_PORTS']}")


def write_private(path: Path, data: bytes) -> None:
    """``data`` in a file only its owner may read, from its creation on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
