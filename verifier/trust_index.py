"""The verified, in-memory view of the trust store that verifications read: each partner's
documents checked again on load, indexed by issuer and key id, reloaded when the file changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cardformat import (
    CardFormatError,
    IssuerMetadata,
    NetworkDirectory,
    TrustedKey,
    VerifiedStatusList,
    verify_metadata,
    verify_status_list,
)

from .ed25519 import SodiumPublicKey
from .networks import NetworkRecord, Vouch, listings, load_networks, vouches_for
from .storefields import TrustStoreError, code_key
from .trust import FileIdentity, PartnerRecord, TrustStore

log = logging.getLogger("verifier.trust")  # the name operators filter on


@dataclass(frozen=True, kw_only=True)
class LoadedPartner:
    """A partner whose stored documents verified: its metadata and its usable status lists."""

    record: PartnerRecord
    metadata: IssuerMetadata
    keys: tuple[TrustedKey, ...]
    status_lists: dict[int, VerifiedStatusList] = field(default_factory=dict)
    fetched_at: dict[int, datetime] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    # What each pinned network says of this city (verifier/networks.py).
    vouches: tuple[Vouch, ...] = ()

    @property
    def code(self) -> str:
        return self.record.code

    @property
    def direct(self) -> bool:
        return self.record.direct

    def vouching(self, now: datetime) -> list[Vouch]:
        """The networks that vouch for this city at ``now``: listed active, not expired."""
        return [vouch for vouch in self.vouches if vouch.holds(now)]

    def trusted_at(self, now: datetime) -> bool:
        """Whether its cards may be ``valid``: pinned directly, or vouched for by a network."""
        return self.direct or bool(self.vouching(now))


def load_partner(record: PartnerRecord) -> LoadedPartner:
    """Verify a stored partner again; raises CardFormatError if its metadata does not verify.

    Each document is verified as of the moment it was accepted: what was valid then was
    checked against the clock then, and staleness is judged at verification time instead.
    """
    metadata = verify_metadata(
        record.metadata, pinned_fingerprint=record.fingerprint, now=record.metadata_fetched_at
    )
    if code_key(metadata.issuer) != code_key(record.code):
        raise TrustStoreError(f"stored metadata for {record.code} names {metadata.issuer}")
    keys = tuple(metadata.trusted_keys(load_key=SodiumPublicKey))
    own = {key.kid: key for key in keys}
    refs = {ref.id: ref for ref in metadata.status_lists}
    lists: dict[int, VerifiedStatusList] = {}
    fetched: dict[int, datetime] = {}
    problems: list[str] = []
    for entry in record.status_lists:
        ref = refs.get(entry.id)
        if ref is None:
            continue  # the issuer no longer publishes it
        try:
            verified = verify_status_list(
                entry.token, resolve_key=own.get, now=entry.fetched_at, expected_uri=ref.uri
            )
        except CardFormatError as exc:
            problems.append(f"status list {entry.id}: {exc.code}")
            continue
        if verified.status_list.size != metadata.status_list_size:
            problems.append(f"status list {entry.id}: size differs from the metadata")
            continue
        lists[entry.id] = verified
        fetched[entry.id] = entry.fetched_at
    return LoadedPartner(
        record=record,
        metadata=metadata,
        keys=keys,
        status_lists=lists,
        fetched_at=fetched,
        problems=tuple(problems),
    )


def latest_fetch(records: Iterable[PartnerRecord]) -> datetime | None:
    """The latest fetch time recorded in the store (metadata or status list), or None."""
    moments = [
        moment
        for record in records
        for moment in (
            record.metadata_fetched_at,
            *(entry.fetched_at for entry in record.status_lists),
        )
    ]
    return max(moments, default=None)


@dataclass(frozen=True, kw_only=True)
class TrustIndex:
    """An immutable snapshot of the trust store, indexed for verification.

    ``resolve`` is one dictionary lookup whatever the number of partners: the public key
    objects are built once per load, not per verification.
    """

    partners: dict[str, LoadedPartner]
    keys: dict[bytes, TrustedKey]
    identity: FileIdentity | None = None
    loaded_at: datetime | None = None
    problems: tuple[str, ...] = ()
    networks: dict[str, NetworkDirectory] = field(default_factory=dict)
    # The latest moment this verifier fetched anything it trusts, by its own clock: a clock
    # that reads earlier has gone back in time, and cannot judge expiry or staleness.
    fetched_until: datetime | None = None

    def resolve(self, kid: bytes) -> TrustedKey | None:
        return self.keys.get(kid)

    def partner(self, code: str) -> LoadedPartner | None:
        return self.partners.get(code)

    @classmethod
    def empty(cls) -> TrustIndex:
        return cls(partners={}, keys={})

    @classmethod
    def build(
        cls,
        records: dict[str, PartnerRecord],
        *,
        networks: dict[str, NetworkRecord] | None = None,
        identity: FileIdentity | None = None,
        loaded_at: datetime | None = None,
    ) -> TrustIndex:
        directories, problems = load_networks((networks or {}).values())
        listed = listings(directories)
        partners: dict[str, LoadedPartner] = {}
        for code, record in records.items():
            vouches, conflicts = vouches_for(code, record.fingerprint, directories, listed)
            if not record.direct and (conflicts or not vouches):
                # Listed by no pinned network any more (removed), or networks disagree on its
                # root: it is trusted through none of them.
                if conflicts:
                    problems.append(f"{code}: networks {', '.join(conflicts)} list another root")
                continue
            try:
                partners[code] = replace(load_partner(record), vouches=tuple(vouches))
            except (CardFormatError, TrustStoreError) as exc:
                # The stored copy was tampered with or damaged: that partner is untrusted until
                # the next sync stores a good copy. Never fall back to trusting it unverified.
                problems.append(f"{code}: stored metadata does not verify ({exc})")
                log.error("trust store: stored metadata of %s does not verify", code)
        keys: dict[bytes, TrustedKey] = {}
        ambiguous: set[bytes] = set()
        for partner in partners.values():
            for key in partner.keys:
                if key.kid in keys and keys[key.kid].issuer != key.issuer:
                    ambiguous.add(key.kid)
                keys[key.kid] = key
        for kid in ambiguous:
            # Two cities publish keys with the same 8-byte id. Neither can be chosen safely, so
            # cards under that id verify as unknown until one city rotates.
            del keys[kid]
            problems.append(f"key id {kid.hex()} is published by more than one partner")
            log.error("trust store: key id %s is published by more than one partner", kid.hex())
        return cls(
            partners=partners,
            keys=keys,
            identity=identity,
            loaded_at=loaded_at,
            problems=tuple(problems),
            networks=directories,
            fetched_until=latest_fetch(records.values()),
        )


class TrustCache:
    """Per-process holder of the current TrustIndex, reloaded when the file is replaced."""

    def __init__(self, store: TrustStore, *, check_interval: float = 0.0) -> None:
        self.store = store
        # How often to stat the file at most. A sync lands within this delay; in exchange the
        # hot path does no system call on most requests (a stat is cheap, but not free on
        # every verification of a busy instance, and slow on some filesystems).
        self.check_interval = check_interval
        self._next_check = 0.0
        self._index = TrustIndex.empty()
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Increases on every reload: a cheap cache key for things derived from the index."""
        return self._generation

    def current(self) -> TrustIndex:
        index = self._index
        if self._generation and self.check_interval:
            now = time.monotonic()
            if now < self._next_check:
                return index
            self._next_check = now + self.check_interval
        identity = self.store.identity()
        if identity == index.identity and (identity is not None or self._generation):
            return index
        with self._lock:
            if identity == self._index.identity and (identity is not None or self._generation):
                return self._index
            self._index = self._reload(identity, self._index)
            self._generation += 1
            self._next_check = time.monotonic() + self.check_interval
            return self._index

    def _reload(self, identity: FileIdentity | None, previous: TrustIndex) -> TrustIndex:
        if identity is None:
            return replace(TrustIndex.empty(), loaded_at=datetime.now(UTC))
        try:
            raw = self.store.path.read_bytes()
            document = TrustStore.parse_all(raw)
        except (OSError, TrustStoreError) as exc:
            # Keep serving the last good index: a damaged file must not turn every card into
            # unknown_issuer, and the next good write replaces it.
            log.error("trust store unreadable, keeping the previous copy: %s", exc)
            return replace(previous, identity=identity)
        return TrustIndex.build(
            document.partners,
            networks=document.networks,
            identity=identity,
            loaded_at=datetime.now(UTC),
        )
