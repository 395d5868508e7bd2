"""The network's state in the instance folder: ``network.json`` and the sealed ``root.key``.

``network.json`` holds what the next directory will say (members, history, endorsements), the
last serial published and when that publication expires. It is public information, replaced
atomically (a temporary file, fsync, rename) under an advisory lock, so two commands run at once
never lose a change. ``root.key`` is the network's root private key sealed under the passphrase
(webguard.keyseal); a root rotation replaces it and the old private key is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardformat import Event, HistoryEvent, Member, MemberState

STATE_FILE = "network.json"
KEY_FILE = "root.key"
LOCK_FILE = "network.lock"
FORMAT = "citycard-network-state"
VERSION = 1


class StateError(RuntimeError):
    """The instance folder's state cannot be read or written; the message says why."""


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _untime(text: Any) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


def _required_time(text: Any) -> datetime:
    moment = _untime(text)
    if moment is None:
        raise ValueError("a required time is missing")
    return moment


@dataclass
class NetworkState:
    network: str
    names: dict[str, str]
    root_key: bytes  # the public key; the private one is in root.key
    serial: int = 0  # the last serial published (0: never published)
    members: dict[str, Member] = field(default_factory=dict)
    history: list[HistoryEvent] = field(default_factory=list)
    endorsements: list[bytes] = field(default_factory=list)
    published_at: datetime | None = None
    published_expires_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "network": self.network,
            "names": self.names,
            "root_key": self.root_key.hex(),
            "serial": self.serial,
            "published_at": _time(self.published_at),
            "published_expires_at": _time(self.published_expires_at),
            "members": [
                {
                    "iss": m.issuer,
                    "names": m.names,
                    "url": m.metadata_url,
                    "root": m.root_key.hex(),
                    "state": m.state.value,
                    "since": _time(m.since),
                }
                for m in sorted(self.members.values(), key=lambda m: m.issuer.encode())
            ],
            "history": [
                {"at": _time(e.at), "iss": e.issuer, "event": e.event.value, "reason": e.reason}
                for e in self.history
            ],
            "endorsements": [e.hex() for e in self.endorsements],
        }

    @classmethod
    def from_json(cls, doc: Any) -> NetworkState:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StateError("the file is not a network coordinator's state")
        if doc.get("version") != VERSION:
            raise StateError(f"unsupported state version {doc.get('version')!r}")
        try:
            members = {}
            for m in doc["members"]:
                members[m["iss"]] = Member(
                    issuer=m["iss"],
                    names=dict(m["names"]),
                    metadata_url=m["url"],
                    root_key=bytes.fromhex(m["root"]),
                    state=MemberState(m["state"]),
                    since=_required_time(m["since"]),
                )
            history = []
            for e in doc["history"]:
                history.append(
                    HistoryEvent(
                        at=_required_time(e["at"]),
                        issuer=e["iss"],
                        event=Event(e["event"]),
                        reason=e["reason"],
                    )
                )
            return cls(
                network=doc["network"],
                names=dict(doc["names"]),
                root_key=bytes.fromhex(doc["root_key"]),
                serial=int(doc["serial"]),
                members=members,
                history=history,
                endorsements=[bytes.fromhex(e) for e in doc["endorsements"]],
                published_at=_untime(doc.get("published_at")),
                published_expires_at=_untime(doc.get("published_expires_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"the network's state is damaged ({type(exc).__name__})") from None


class StateStore:
    """The instance folder: read the state, change it under the lock, write it atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / STATE_FILE
        self.key_path = folder / KEY_FILE
        self.next_key_path = folder / (KEY_FILE + ".new")

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> NetworkState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise StateError(
                f"no network in {self.folder}: run `citycard-network init` first "
                "(or set CITYCARD_NETWORK_INSTANCE_PATH)"
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise StateError(f"{self.path} is not valid JSON") from None
        return NetworkState.from_json(doc)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self.folder / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[NetworkState]:
        """Lock, read, let the caller change the state, write it back; nothing on an error."""
        with self.locked():
            state = self.read()
            yield state
            self.write(state)

    def write(self, state: NetworkState) -> None:
        data = json.dumps(state.to_json(), indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        write_atomically(self.path, data, mode=0o644)

    def read_key(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except OSError as exc:
            raise StateError(f"cannot read the root key {self.key_path}: {exc.strerror}") from None

    def write_key(self, sealed: bytes) -> None:
        write_atomically(self.key_path, sealed, mode=0o600)


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a torn one,
    and a crash does not bring the old one back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
