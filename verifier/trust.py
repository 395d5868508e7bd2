"""The trust store: pinned partner cities and the last verified copy of what each publishes.

Storage choice: one JSON document, ``trust.json`` in the instance folder, replaced atomically.

- Readers are gunicorn workers answering verifications; the writer is ``verifier sync`` (or
  ``partners add``/``remove``), usually in another process. Writers build the new document in a
  temporary file in the same folder, fsync it and ``os.replace`` it over the old one, so a reader
  opens either the old or the new file, never a torn one, and never waits on a lock.
- Workers keep the parsed store in memory and re-read it when the file's identity (inode,
  size, mtime, ctime) changes: one ``stat`` per request, then pure dictionary lookups. Writers
  give every new file an mtime later than the one it replaces (``_later_than_replaced``), so an
  identity a reader holds never comes back.
- Writers serialise among themselves with an advisory ``flock`` on ``trust.lock`` around the
  read-modify-write, so a ``partners add`` during a long ``sync`` loses nothing.
- The whole store changes at once: a partner's metadata and its status lists are never seen
  half-updated. SQLite would give the same with WAL, but adds a writer lock readers can meet
  during checkpoints, and the document is small (public data only: metadata and status lists)
  and is read whole anyway. An operator can inspect it with ``jq``.

What is stored is only what partners published, as received (signed bytes), plus when it was
fetched and the last error. On load, every signature is verified again, as of the moment the
document was accepted, so a tampered file cannot smuggle in a key: it drops that partner instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .storefields import (
    TrustStoreError,
    b64,
    etag,
    from_time_text,
    to_time_text,
    unb64,
)

if TYPE_CHECKING:
    from .networks import NetworkRecord

TRUST_FILE = "trust.json"
LOCK_FILE = "trust.lock"
FORMAT = "citycard-verifier-trust-store"
VERSION = 1
# (inode, size, mtime ns, ctime ns) of the trust file: TrustStore.identity.
FileIdentity = tuple[int, int, int, int]


@dataclass(frozen=True, kw_only=True)
class StoredStatusList:
    """One status list token as received, and when it was fetched and verified."""

    id: int
    uri: str
    token: bytes
    fetched_at: datetime
    # The publisher's ETag for these bytes, sent back as If-None-Match on the next sync.
    etag: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "token": b64(self.token),
            "fetched_at": to_time_text(self.fetched_at),
            "etag": self.etag,
        }

    @classmethod
    def from_json(cls, obj: Any) -> StoredStatusList:
        if not isinstance(obj, dict):
            raise TrustStoreError("a status list entry is not an object")
        fetched_at = from_time_text(obj.get("fetched_at"), "status list fetched_at")
        if type(obj.get("id")) is not int or not isinstance(obj.get("uri"), str) or not fetched_at:
            raise TrustStoreError("a status list entry lacks id, uri or fetched_at")
        return cls(
            id=obj["id"],
            uri=obj["uri"],
            token=unb64(obj.get("token"), "status list token"),
            fetched_at=fetched_at,
            etag=etag(obj.get("etag")),
        )


@dataclass(frozen=True, kw_only=True)
class PartnerRecord:
    """A pinned partner city as stored: its pin, its last good documents, its sync history."""

    code: str
    metadata_url: str
    fingerprint: str
    added_at: datetime
    metadata: bytes
    metadata_fetched_at: datetime
    status_lists: tuple[StoredStatusList, ...] = ()
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    metadata_etag: str | None = None
    # Pinned by this verifier's operator (True), or only listed by pinned networks (False): then
    # ``fingerprint`` is the root the networks list, and the networks decide whether it is
    # trusted (verifier/networks.py).
    direct: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "direct": self.direct,
            "metadata_url": self.metadata_url,
            "fingerprint": self.fingerprint,
            "added_at": to_time_text(self.added_at),
            "metadata": b64(self.metadata),
            "metadata_fetched_at": to_time_text(self.metadata_fetched_at),
            "metadata_etag": self.metadata_etag,
            "status_lists": [entry.to_json() for entry in self.status_lists],
            "last_attempt_at": to_time_text(self.last_attempt_at),
            "last_success_at": to_time_text(self.last_success_at),
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, obj: Any) -> PartnerRecord:
        if not isinstance(obj, dict):
            raise TrustStoreError("a partner entry is not an object")
        code, url, fp = obj.get("code"), obj.get("metadata_url"), obj.get("fingerprint")
        if not all(isinstance(v, str) for v in (code, url, fp)):
            raise TrustStoreError("a partner entry lacks code, metadata_url or fingerprint")
        added_at = from_time_text(obj.get("added_at"), "added_at")
        fetched_at = from_time_text(obj.get("metadata_fetched_at"), "metadata_fetched_at")
        if added_at is None or fetched_at is None:
            raise TrustStoreError(f"partner {code}: added_at and metadata_fetched_at are required")
        lists = obj.get("status_lists", [])
        if not isinstance(lists, list):
            raise TrustStoreError(f"partner {code}: status_lists is not a list")
        error = obj.get("last_error")
        direct = obj.get("direct", True)  # stores written before networks pinned every partner
        if not isinstance(direct, bool):
            raise TrustStoreError(f"partner {code}: direct is not a boolean")
        return cls(
            code=str(code),
            direct=direct,
            metadata_url=str(url),
            fingerprint=str(fp),
            added_at=added_at,
            metadata=unb64(obj.get("metadata"), f"partner {code} metadata"),
            metadata_fetched_at=fetched_at,
            status_lists=tuple(StoredStatusList.from_json(item) for item in lists),
            last_attempt_at=from_time_text(obj.get("last_attempt_at"), "last_attempt_at"),
            last_success_at=from_time_text(obj.get("last_success_at"), "last_success_at"),
            last_error=error if isinstance(error, str) else None,
            metadata_etag=etag(obj.get("metadata_etag")),
        )


@dataclass
class TrustDocument:
    """The whole store: the partners and the networks pinned, by code."""

    partners: dict[str, PartnerRecord]
    networks: dict[str, NetworkRecord]


class TrustStore:
    """The trust store file of one instance folder: atomic reads and locked, atomic writes."""

    def __init__(self, instance_path: str | os.PathLike[str]) -> None:
        self.folder = Path(instance_path)
        self.path = self.folder / TRUST_FILE
        self.lock_path = self.folder / LOCK_FILE

    def read(self) -> dict[str, PartnerRecord]:
        """The partners by code; an empty store when the file does not exist yet."""
        return self.read_all().partners

    def read_all(self) -> TrustDocument:
        """The partners and the networks; an empty store when the file does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return TrustDocument(partners={}, networks={})
        except OSError as exc:
            raise TrustStoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        return self.parse_all(raw)

    @staticmethod
    def parse(raw: bytes) -> dict[str, PartnerRecord]:
        return TrustStore.parse_all(raw).partners

    @staticmethod
    def parse_all(raw: bytes) -> TrustDocument:
        from .networks import parse_networks

        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TrustStoreError("the trust store is not valid JSON") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TrustStoreError("the file is not a verifier trust store")
        if doc.get("version") != VERSION:
            raise TrustStoreError(f"unsupported trust store version {doc.get('version')!r}")
        partners = doc.get("partners")
        if not isinstance(partners, list):
            raise TrustStoreError("the trust store has no partners list")
        records = [PartnerRecord.from_json(item) for item in partners]
        return TrustDocument(
            partners={record.code: record for record in records}, networks=parse_networks(doc)
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, PartnerRecord]]:
        """Lock, read, let the caller change the partners, write them back atomically, unlock.

        Nothing is written if the body raises.
        """
        with self.transaction_all() as document:
            yield document.partners

    @contextlib.contextmanager
    def transaction_all(self) -> Iterator[TrustDocument]:
        """As ``transaction``, for partners and networks together (one atomic write)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                document = self.read_all()
                yield document
                self._write(document)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, document: TrustDocument) -> None:
        records, networks = document.partners, document.networks
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "partners": [records[code].to_json() for code in sorted(records)],
        }
        if networks:
            doc["networks"] = [networks[code].to_json() for code in sorted(networks)]
        data = json.dumps(doc, indent=1, sort_keys=False).encode("utf-8") + b"\n"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".trust.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            # Public data only, but readable by the web server's user whichever user ran sync.
            os.chmod(tmp, 0o644)
            self._later_than_replaced(tmp)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # Make the rename itself durable: a crash must not bring back the previous store.
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _later_than_replaced(self, tmp: str) -> None:
        """Date the new file strictly after the one it replaces.

        Readers spot a new version by ``identity()`` alone. Between two of a reader's checks,
        two writes can bring that identity back: the second new file may get the inode number
        freed by the first replace, the same size (a flipped status bit), and the same mtime,
        as the filesystem's clock only moves once per tick (4 ms on a common kernel), or goes
        back when the system clock is stepped. Strictly increasing mtimes rule that out.
        """
        try:
            replaced = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return
        step = 1
        # A filesystem that stores coarser times than nanoseconds rounds a small step away.
        while os.stat(tmp).st_mtime_ns <= replaced and step <= 10**10:
            os.utime(tmp, ns=(replaced + step, replaced + step))
            step *= 10

    def identity(self) -> FileIdentity | None:
        """What changes whenever the file is replaced (or rewritten in place, even with its
        mtime put back, through the ctime); None when there is no file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
