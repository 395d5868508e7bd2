"""A fake issuing city's publications and cards, made with cardformat alone.

A city publishes, for partner verifiers, issuer metadata (its root key, its signing keys, where
its status lists are) signed by its root key, and status lists signed by a signing key; it signs
cards with a signing key. The verifier's tests and the benchmarks build such cities without
cardservice, from the pieces here, so that they all follow one reading of the card format:
tests/integration/verifier, tests/e2e/verifier, bench/bench_verify.py and
bench/bench_federation.py. Each caller keeps its own city (keys, lists, server); only how the
documents are made lives here.

Importable as ``tests.fake_city`` from the repository root (the bench scripts put the root on
sys.path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardformat import (
    MIN_STATUS_LIST_SIZE,
    Card,
    Event,
    HistoryEvent,
    IssuerMetadata,
    KeyState,
    Member,
    MemberState,
    NetworkDirectory,
    PublishedKey,
    StatusList,
    StatusListRef,
    fingerprint,
    generate_card_number,
    generate_key,
    key_id,
    public_key_bytes,
    sign_card,
    sign_directory,
    sign_metadata,
    sign_status_list,
)
from verifier.networks import NetworkRecord
from verifier.trust import PartnerRecord, StoredStatusList

METADATA_TTL = 86400  # seconds a verifier may rely on the metadata, as cardservice sets it
STATUS_LIST_TTL = 3600  # seconds a verifier may rely on a status list, as cardservice sets it


def published_key(
    signing_key: Ed25519PrivateKey,
    *,
    not_before: datetime,
    state: KeyState = KeyState.ACTIVE,
    not_after: datetime | None = None,
    retired_at: datetime | None = None,
) -> PublishedKey:
    """How the metadata lists one of the city's signing keys."""
    return PublishedKey(
        kid=key_id(signing_key),
        public_key=public_key_bytes(signing_key),
        state=state,
        not_before=not_before,
        not_after=not_after,
        retired_at=retired_at,
    )


def published_vector_key(entry: Mapping[str, Any]) -> PublishedKey:
    """How the metadata lists a signing key of the card-format vectors (an entry of "keys" in
    tests/vectors/cards.json: public part, state, retirement time, nbf and exp)."""
    return PublishedKey(
        kid=bytes.fromhex(entry["kid"]),
        public_key=bytes.fromhex(entry["public_key"]),
        state=KeyState(entry["state"]),
        not_before=_vector_time(entry["not_before"]),
        not_after=_vector_time(entry["not_after"]) if entry["not_after"] else None,
        retired_at=_vector_time(entry["retired_at"]) if entry["retired_at"] else None,
    )


def _vector_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def issuer_metadata(
    *,
    code: str,
    names: Mapping[str, str],
    root: Ed25519PrivateKey,
    keys: Iterable[PublishedKey],
    status_list_uris: Mapping[int, str],
    issued_at: datetime,
    serial: int = 1,
    ttl: int = METADATA_TTL,
) -> IssuerMetadata:
    """The city's metadata (to be signed with ``sign_metadata(..., root_key=root)``).

    ``status_list_uris`` maps each status list id to the address it is published at; every list
    has MIN_STATUS_LIST_SIZE entries.
    """
    return IssuerMetadata(
        issuer=code,
        names=dict(names),
        root_key=public_key_bytes(root),
        keys=tuple(keys),
        status_lists=tuple(
            StatusListRef(id=i, uri=uri) for i, uri in sorted(status_list_uris.items())
        ),
        status_list_size=MIN_STATUS_LIST_SIZE,
        serial=serial,
        issued_at=issued_at,
        ttl=ttl,
    )


def signed_card(
    *,
    issuer: str,
    signing_key: Ed25519PrivateKey,
    now: datetime,
    expires_at: datetime,
    status_index: int,
    holder_name: str = "Amina Haddad",
    birth_date: date | None = date(1990, 4, 2),
) -> tuple[str, Card]:
    """A new card (fresh random number) issued at ``now``: its QR text and its contents."""
    card = Card(
        number=generate_card_number(),
        holder_name=holder_name,
        birth_date=birth_date,
        status_index=status_index,
    )
    text = sign_card(card, issuer=issuer, signing_key=signing_key, now=now, expires_at=expires_at)
    return text, card


def published_documents(
    *,
    code: str,
    names: Mapping[str, str],
    root: Ed25519PrivateKey,
    signing_key: Ed25519PrivateKey,
    statuses: StatusList,
    base_url: str,
    prefix: str,
    now: datetime,
    key_not_before: datetime,
    key_not_after: datetime | None = None,
    serial: int = 1,
    status_list_expires_at: datetime | None = None,
) -> dict[str, bytes]:
    """What a city with one active signing key serves under ``{base_url}{prefix}``, signed at
    ``now``, by path: its metadata at ``{prefix}/issuer`` and ``statuses`` as its status list 0
    at ``{prefix}/status/0``."""
    uri = f"{base_url}{prefix}/status/0"
    meta = issuer_metadata(
        code=code,
        names=names,
        root=root,
        keys=[published_key(signing_key, not_before=key_not_before, not_after=key_not_after)],
        status_list_uris={0: uri},
        serial=serial,
        issued_at=now,
    )
    return {
        f"{prefix}/issuer": sign_metadata(meta, root_key=root),
        f"{prefix}/status/0": sign_status_list(
            statuses,
            issuer=code,
            uri=uri,
            signing_key=signing_key,
            now=now,
            ttl=STATUS_LIST_TTL,
            expires_at=status_list_expires_at,
        ),
    }


def partner_record(
    *,
    code: str,
    metadata_url: str,
    root: Ed25519PrivateKey,
    metadata: bytes,
    status_list_uri: str,
    status_list_token: bytes,
    at: datetime,
    status_list_fetched_at: datetime | None = None,
    last_synced_at: datetime | None = None,
) -> PartnerRecord:
    """The city as a verifier's trust store holds it once pinned at ``at``, written directly
    instead of fetched: its signed metadata and its status list 0.

    ``status_list_fetched_at`` defaults to ``at``; ``last_synced_at`` records a successful sync
    (none by default).
    """
    return PartnerRecord(
        code=code,
        metadata_url=metadata_url,
        fingerprint=fingerprint(root),
        added_at=at,
        metadata=metadata,
        metadata_fetched_at=at,
        status_lists=(
            StoredStatusList(
                id=0,
                uri=status_list_uri,
                token=status_list_token,
                fetched_at=status_list_fetched_at or at,
            ),
        ),
        last_attempt_at=last_synced_at,
        last_success_at=last_synced_at,
    )


def pinned_city_record(
    *,
    code: str,
    names: Mapping[str, str],
    keys: Iterable[PublishedKey],
    base_url: str,
    status_list_signer: Ed25519PrivateKey,
    metadata_issued_at: datetime,
    at: datetime,
) -> PartnerRecord:
    """A city with a root key made here, pinned at ``at``, for signing keys known only by their
    public part (the card-format vectors' keys).

    Its metadata lists ``keys`` and is published at ``{base_url}/issuer``; its one status list
    (``{base_url}/status/0``, every card valid) is signed at ``at`` by ``status_list_signer``,
    which must be one of ``keys``.
    """
    root = generate_key()
    uri = f"{base_url}/status/0"
    meta = issuer_metadata(
        code=code,
        names=names,
        root=root,
        keys=keys,
        status_list_uris={0: uri},
        issued_at=metadata_issued_at,
    )
    token = sign_status_list(
        StatusList(MIN_STATUS_LIST_SIZE),
        issuer=code,
        uri=uri,
        signing_key=status_list_signer,
        now=at,
        ttl=STATUS_LIST_TTL,
    )
    return partner_record(
        code=code,
        metadata_url=f"{base_url}/issuer",
        root=root,
        metadata=sign_metadata(meta, root_key=root),
        status_list_uri=uri,
        status_list_token=token,
        at=at,
    )


def signed_directory(
    *,
    network: str,
    root: Ed25519PrivateKey,
    members: Iterable[tuple[str, Mapping[str, str], str, bytes]],
    now: datetime,
    serial: int = 1,
    suspended: Iterable[str] = (),
    validity: timedelta = timedelta(days=30),
    admitted_at: datetime | None = None,
) -> bytes:
    """A network's directory listing ``members`` (code, names, metadata URL, raw root key), all
    admitted at ``admitted_at`` (default ``now``) and those named in ``suspended`` suspended
    then; signed at ``now`` by ``root`` as citycard-network would sign it."""
    at = (admitted_at or now).replace(microsecond=0)
    issued = now.replace(microsecond=0)
    held = set(suspended)
    listed = sorted(members, key=lambda m: m[0].encode())
    history = [HistoryEvent(at=at, issuer=m[0], event=Event.ADMITTED, reason="") for m in listed]
    history += [
        HistoryEvent(at=at, issuer=m[0], event=Event.SUSPENDED, reason="test")
        for m in listed
        if m[0] in held
    ]
    directory = NetworkDirectory(
        network=network,
        names={"en": f"{network.title()} network"},
        root_key=public_key_bytes(root),
        serial=serial,
        issued_at=issued,
        next_update=issued + min(validity, timedelta(days=7)),
        expires_at=issued + validity,
        members=tuple(
            Member(
                issuer=code,
                names=dict(names),
                metadata_url=url,
                root_key=member_root,
                state=MemberState.SUSPENDED if code in held else MemberState.ACTIVE,
                since=at,
            )
            for code, names, url, member_root in listed
        ),
        history=tuple(history),
    )
    return sign_directory(directory, root_key=root)


def network_record(
    *, network: str, root: Ed25519PrivateKey, directory: bytes, url: str, at: datetime
) -> NetworkRecord:
    """How the trust store keeps a pinned network after a sync."""
    return NetworkRecord(
        code=network,
        directory_url=url,
        fingerprint=fingerprint(root),
        added_at=at,
        directory=directory,
        fetched_at=at,
        last_attempt_at=at,
        last_success_at=at,
    )
