"""Networks a verifier pinned: their stored directories, and what they vouch for.

A network is pinned like a city, by its root fingerprint (docs/federation.md section 6). Its
last good directory is kept in the trust store beside the partners, as received (signed bytes),
and verified again whenever the store is loaded. Each city the network lists becomes a partner
whose root is the one the directory lists (``PartnerRecord.direct`` False); a city pinned
directly stays one partner, trusted whatever the networks say.

Whether a network-only partner's cards can be ``valid`` is decided at verification time, from
the vouches loaded here: at least one network must list it ``active`` in a directory that has
not expired (docs/card-format.md section 9).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cardformat import CardFormatError, Member, MemberState, NetworkDirectory, fingerprint
from cardformat.network import load_signed_directory

from .storefields import (
    TrustStoreError,
    b64,
    code_key,
    etag,
    from_time_text,
    to_time_text,
    unb64,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class NetworkRecord:
    """A pinned network as stored: its pin, its last good directory, its sync history."""

    code: str
    directory_url: str
    fingerprint: str
    added_at: datetime
    directory: bytes
    fetched_at: datetime
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    etag: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "directory_url": self.directory_url,
            "fingerprint": self.fingerprint,
            "added_at": to_time_text(self.added_at),
            "directory": b64(self.directory),
            "fetched_at": to_time_text(self.fetched_at),
            "etag": self.etag,
            "last_attempt_at": to_time_text(self.last_attempt_at),
            "last_success_at": to_time_text(self.last_success_at),
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, obj: Any) -> NetworkRecord:
        if not isinstance(obj, dict):
            raise TrustStoreError("a network entry is not an object")
        code, url, fp = obj.get("code"), obj.get("directory_url"), obj.get("fingerprint")
        if not all(isinstance(v, str) for v in (code, url, fp)):
            raise TrustStoreError("a network entry lacks code, directory_url or fingerprint")
        added_at = from_time_text(obj.get("added_at"), "added_at")
        fetched_at = from_time_text(obj.get("fetched_at"), "fetched_at")
        if added_at is None or fetched_at is None:
            raise TrustStoreError(f"network {code}: added_at and fetched_at are required")
        error = obj.get("last_error")
        return cls(
            code=str(code),
            directory_url=str(url),
            fingerprint=str(fp),
            added_at=added_at,
            directory=unb64(obj.get("directory"), f"network {code} directory"),
            fetched_at=fetched_at,
            etag=etag(obj.get("etag")),
            last_attempt_at=from_time_text(obj.get("last_attempt_at"), "last_attempt_at"),
            last_success_at=from_time_text(obj.get("last_success_at"), "last_success_at"),
            last_error=error if isinstance(error, str) else None,
        )


def parse_networks(doc: dict[str, Any]) -> dict[str, NetworkRecord]:
    """The ``networks`` of a trust store document; absent in stores written before networks."""
    items = doc.get("networks", [])
    if not isinstance(items, list):
        raise TrustStoreError("the trust store's networks is not a list")
    records = [NetworkRecord.from_json(item) for item in items]
    return {record.code: record for record in records}


def load_network(record: NetworkRecord) -> NetworkDirectory:
    """The stored directory, verified again against the pin (steps N1 to N5)."""
    directory = load_signed_directory(record.directory, pinned_fingerprint=record.fingerprint)
    if directory.network != record.code:
        raise TrustStoreError(f"stored directory for {record.code} names {directory.network}")
    return directory


def load_networks(
    records: Iterable[NetworkRecord],
) -> tuple[dict[str, NetworkDirectory], list[str]]:
    """The networks whose stored directory verifies, and a problem line for each that does not.

    A damaged or tampered copy vouches for nobody until the next sync stores a good one.
    """
    loaded: dict[str, NetworkDirectory] = {}
    problems: list[str] = []
    for record in records:
        try:
            loaded[record.code] = load_network(record)
        except (CardFormatError, TrustStoreError) as exc:
            problems.append(f"network {record.code}: stored directory does not verify ({exc})")
            log.error("trust store: stored directory of network %s does not verify", record.code)
    return loaded, problems


@dataclass(frozen=True, kw_only=True, slots=True)
class Vouch:
    """One network's word on one city: its state there and until when the directory holds."""

    network: str
    names: dict[str, str]
    state: MemberState
    expires_at: datetime

    def holds(self, now: datetime) -> bool:
        return self.state is MemberState.ACTIVE and now < self.expires_at


def listings(networks: dict[str, NetworkDirectory]) -> dict[str, list[tuple[str, Member]]]:
    """Every listed city by its loose code (code_key): the networks listing it and how. Built
    once per load, so that finding a partner's vouches is a lookup, not a scan of every
    directory (a store of 1,000 members would otherwise cost a million comparisons)."""
    found: dict[str, list[tuple[str, Member]]] = {}
    for name in sorted(networks):
        for member in networks[name].members:
            found.setdefault(code_key(member.issuer), []).append((name, member))
    return found


def vouches_for(
    code: str,
    root_fingerprint: str,
    networks: dict[str, NetworkDirectory],
    listed: dict[str, list[tuple[str, Member]]],
) -> tuple[list[Vouch], list[str]]:
    """What each loaded network says of the city ``code`` with that root, and the networks that
    list the code with another root (a conflict: none of those vouch). ``listed`` is
    ``listings(networks)``."""
    vouches: list[Vouch] = []
    conflicts: list[str] = []
    for name, member in listed.get(code_key(code), ()):
        if fingerprint(member.root_key) != root_fingerprint:
            conflicts.append(name)
            continue
        directory = networks[name]
        vouches.append(
            Vouch(
                network=name,
                names=directory.names,
                state=member.state,
                expires_at=directory.expires_at,
            )
        )
    return vouches, conflicts


@dataclass(frozen=True, kw_only=True, slots=True)
class WantedMember:
    """A city the pinned networks list: where its metadata is and the root it must chain from."""

    code: str
    metadata_url: str
    fingerprint: str
    networks: tuple[str, ...]


def wanted_members(
    networks: dict[str, NetworkDirectory],
) -> tuple[dict[str, WantedMember], dict[str, list[str]]]:
    """Every city listed (active or suspended) by the networks, and the codes whose networks
    disagree on the root (code -> networks): those are trusted through none of them."""
    seen: dict[str, list[tuple[str, str, str]]] = {}
    for name in sorted(networks):
        for member in networks[name].members:
            seen.setdefault(member.issuer, []).append(
                (name, fingerprint(member.root_key), member.metadata_url)
            )
    wanted: dict[str, WantedMember] = {}
    conflicts: dict[str, list[str]] = {}
    for code, listings in seen.items():
        if len({fp for _n, fp, _u in listings}) > 1:
            conflicts[code] = [n for n, _fp, _u in listings]
            continue
        wanted[code] = WantedMember(
            code=code,
            metadata_url=listings[0][2],
            fingerprint=listings[0][1],
            networks=tuple(n for n, _fp, _u in listings),
        )
    return wanted, conflicts
