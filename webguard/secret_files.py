"""Secrets given as files (``<APP>_<NAME>_FILE``): how both apps read one.

A file keeps a secret out of the process environment, which other processes of the same user,
crash reports and container inspection can show: an orchestrator's secret store (Docker or
Kubernetes secrets, systemd credentials) mounts the value as a file and the app is told its path.
An app given such a path must start with the value or not at all: a missing, unreadable or empty
file stops it with a message naming the setting and the file, never with a fallback secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_secret_file(path: str, setting: str) -> str:
    """The secret in the file at ``path`` (named by the setting ``setting``), without the
    surrounding whitespace a text editor or ``echo`` leaves. Raises ValueError, with a message
    for the operator (the path and the setting, never the content), when it cannot be read or is
    empty; each app turns it into its own configuration error."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ValueError(f"cannot read secret file {path} ({setting}): {reason}") from None
    if not value:
        raise ValueError(f"secret file {path} ({setting}) is empty")
    return value


def private_folder(path: Path) -> None:
    """Create ``path`` as 0700, or tighten it to 0700: it holds secrets (generated development
    secrets, keys) that no other account of the machine may read. Raises ValueError when the
    folder is open to others and cannot be tightened."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            raise ValueError(
                f"the folder {path} is open to other accounts and cannot be made private "
                f"({exc.strerror}): make it mode 0700, owned by the service's user"
            ) from None


def development_secret(folder: Path, name: str, generate: Callable[[], str]) -> str:
    """The secret kept in ``folder/name``, generated there (mode 0600) the first time.

    Development and tests only (each app refuses to do this in production): one generated value
    per instance folder keeps sessions, keys and data readable across restarts, and is never a
    fixed fallback secret."""
    path = folder / name
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    private_folder(folder)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)
    return value
