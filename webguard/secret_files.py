"""Secrets given as files (``<APP>_<NAME>_FILE``): how both apps read one.

A file keeps a secret out of the process environment, which other processes of the same user,
crash reports and container inspection can show: an orchestrator's secret store (Docker or
Kubernetes secrets, systemd credentials) mounts the value as a file and the app is told its path.
An app given such a path must start with the value or not at all: a missing, unreadable or empty
file stops it with a message naming the setting and the file, never with a fallback secret.
"""

from __future__ import annotations

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
