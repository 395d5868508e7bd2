"""Signed issuer metadata: what a city publishes at /.well-known/citycard/issuer.

A COSE_Sign1 signed by the city's root key over a CBOR map with text keys. Partners pin the
root by fingerprint once; a root rotation is carried by endorsements (the old root signs the
new one), so a partner follows the chain from the root it pinned without a new exchange.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import cose
from .errors import BadSignatureError, MalformedError, NotYetValidError, RollbackError
from .keys import (
    KeyState,
    SignatureVerifier,
    TrustedKey,
    fingerprint,
    key_id,
    load_public_key,
    normalize_fingerprint,
    public_key_bytes,
)
from .statuslist import MIN_STATUS_LIST_SIZE
from .token import CLOCK_SKEW, MAX_NUMERIC_DATE, validate_issuer_code

TYP_METADATA = "application/citycard-issuer+cbor"
TYP_ENDORSEMENT = "application/citycard-root-endorsement+cbor"
FORMAT_VERSION = 1
MAX_METADATA_BYTES = 1 << 20
# The exact fields of the documents (docs/card-format.md section 5): no more, no fewer.
_METADATA_FIELDS = frozenset(
    {
        "v",
        "iss",
        "names",
        "root",
        "keys",
        "status_lists",
        "status_list_size",
        "serial",
        "iat",
        "ttl",
        "endorsements",
    }
)
MAX_UINT = 2**64 - 1  # a CBOR uint; a bignum (tag 2) is not one
_KEY_FIELDS = frozenset({"kid", "pub", "state", "nbf", "exp", "retired"})
_LIST_FIELDS = frozenset({"id", "uri"})
_ENDORSEMENT_FIELDS = frozenset({"iss", "old", "new", "iat"})


@dataclass(frozen=True, kw_only=True, slots=True)
class PublishedKey:
    kid: bytes
    public_key: bytes
    state: KeyState
    not_before: datetime
    not_after: datetime | None = None
    retired_at: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusListRef:
    id: int
    uri: str


@dataclass(frozen=True, kw_only=True)
class IssuerMetadata:
    issuer: str
    names: dict[str, str]
    root_key: bytes
    keys: tuple[PublishedKey, ...]
    status_lists: tuple[StatusListRef, ...]
    status_list_size: int
    serial: int
    issued_at: datetime
    ttl: int
    endorsements: tuple[bytes, ...] = field(default=())

    @property
    def default_name(self) -> str:
        """The name under the language tag first in deterministic order (shortest, then
        bytewise), or the issuer code when there is none: CBOR maps keep no order of their own."""
        if not self.names:
            return self.issuer
        return self.names[min(self.names, key=_deterministic_key)]

    def trusted_keys(
        self, load_key: Callable[[bytes], SignatureVerifier] = load_public_key
    ) -> list[TrustedKey]:
        """The signing keys as a verifier's resolver hands them to verify_card.

        ``load_key`` turns a raw key, already checked by ``load_public_key`` when the metadata
        was read, into what checks signatures.
        """
        return [
            TrustedKey(
                kid=k.kid,
                public_key=load_key(k.public_key),
                issuer=self.issuer,
                state=k.state,
                retired_at=k.retired_at if k.state is KeyState.RETIRED else None,
                issuer_name=self.default_name,
                not_before=k.not_before,
                not_after=k.not_after,
            )
            for k in self.keys
        ]

    def status_list_ref(self, index: int) -> tuple[StatusListRef, int]:
        """Which published list holds a card's status index, and the position in it."""
        list_id, position = divmod(index, self.status_list_size)
        for ref in self.status_lists:
            if ref.id == list_id:
                return ref, position
        raise LookupError(f"status list {list_id} is not published")

    def is_stale(self, now: datetime) -> bool:
        return now > self.issued_at + timedelta(seconds=self.ttl)


def _deterministic_key(tag: str) -> tuple[int, bytes]:
    encoded = tag.encode("utf-8")
    return len(encoded), encoded


def _ts(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if type(value) is not int:
        raise MalformedError("a time in the metadata is an integer")
    if not 0 <= value <= MAX_NUMERIC_DATE:
        raise MalformedError("a time in the metadata is out of range")
    return datetime.fromtimestamp(value, UTC)


def _required_dt(value: Any) -> datetime:
    moment = _dt(value)
    if moment is None:
        raise MalformedError("a required time is missing from the metadata")
    return moment


def sign_metadata(meta: IssuerMetadata, *, root_key: Ed25519PrivateKey) -> bytes:
    validate_issuer_code(meta.issuer)
    if public_key_bytes(root_key) != meta.root_key:
        raise ValueError("the metadata must be signed by the root key it names")
    payload = {
        "v": FORMAT_VERSION,
        "iss": meta.issuer,
        "names": dict(meta.names),
        "root": meta.root_key,
        "keys": [
            {
                "kid": k.kid,
                "pub": k.public_key,
                "state": k.state.value,
                "nbf": _ts(k.not_before),
                "exp": _ts(k.not_after),
                "retired": _ts(k.retired_at),
            }
            for k in meta.keys
        ],
        "status_lists": [{"id": r.id, "uri": r.uri} for r in meta.status_lists],
        "status_list_size": meta.status_list_size,
        "serial": meta.serial,
        "iat": _ts(meta.issued_at),
        "ttl": meta.ttl,
        "endorsements": list(meta.endorsements),
    }
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: key_id(root_key),
        cose.HEADER_TYP: TYP_METADATA,
    }
    return cose.sign1(header, cbor2.dumps(payload, canonical=True), root_key)


def endorse_root(
    *, old_root: Ed25519PrivateKey, new_root: bytes, issuer: str, now: datetime
) -> bytes:
    """The old root's signature over its successor, to be carried in every later metadata."""
    payload = {"iss": issuer, "old": public_key_bytes(old_root), "new": new_root, "iat": _ts(now)}
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: key_id(old_root),
        cose.HEADER_TYP: TYP_ENDORSEMENT,
    }
    return cose.sign1(header, cbor2.dumps(payload, canonical=True), old_root)


def verify_metadata(
    data: bytes, *, pinned_fingerprint: str, now: datetime, min_serial: int | None = None
) -> IssuerMetadata:
    """Verify metadata against a pinned root fingerprint, following root endorsements."""
    if not isinstance(data, bytes) or len(data) > MAX_METADATA_BYTES:
        raise MalformedError("issuer metadata is a byte string of bounded size")
    message = cose.decode_sign1(data)
    kid = cose.read_header(message, typ=TYP_METADATA)
    meta = _parse(cose.loads_deterministic(message.payload))
    if kid != key_id(meta.root_key):
        raise BadSignatureError("the metadata is not signed by the root it names")
    check_root_chain(
        meta.root_key, meta.endorsements, meta.issuer, normalize_fingerprint(pinned_fingerprint)
    )
    cose.verify_signature(message, load_public_key(meta.root_key))
    if meta.issued_at > now + CLOCK_SKEW:
        raise NotYetValidError("the metadata is dated in the future")
    if min_serial is not None and meta.serial < min_serial:
        raise RollbackError(f"serial {meta.serial} is lower than {min_serial} already seen")
    return meta


def check_root_chain(
    root: bytes, endorsements: tuple[bytes, ...], issuer: str, pinned: str
) -> None:
    """Walk from the pinned root to ``root`` through endorsements, or refuse.

    Shared by every document signed by a root: a city's metadata (``issuer`` its code) and a
    network's directory (``issuer`` the network's code, cardformat.network).
    """
    current = pinned
    target = fingerprint(root)
    remaining = list(endorsements)
    while current != target:
        for endorsement in remaining:
            successor = _endorsed_successor(endorsement, current, issuer)
            if successor is not None:
                remaining.remove(endorsement)
                current = fingerprint(successor)
                break
        else:
            raise BadSignatureError("the root key is neither the pinned root nor endorsed by it")


def _endorsed_successor(endorsement: bytes, endorser: str, issuer: str) -> bytes | None:
    if not isinstance(endorsement, bytes):
        raise MalformedError("an endorsement is a byte string")
    message = cose.decode_sign1(endorsement)
    cose.read_header(message, typ=TYP_ENDORSEMENT)
    body = cose.loads_deterministic(message.payload)
    if (
        not isinstance(body, dict)
        or set(body) != _ENDORSEMENT_FIELDS
        or not isinstance(body.get("old"), bytes)
    ):
        raise MalformedError("an endorsement names the old and the new root")
    if fingerprint(body["old"]) != endorser:
        return None
    cose.verify_signature(message, load_public_key(body["old"]))
    new = body.get("new")
    _required_dt(body.get("iat"))
    if body.get("iss") != issuer or not isinstance(new, bytes):
        raise BadSignatureError("the endorsement is for another issuer")
    load_public_key(new)
    return new


def _parse(obj: Any) -> IssuerMetadata:
    if not isinstance(obj, Mapping) or obj.get("v") != FORMAT_VERSION:
        raise MalformedError("not version 1 issuer metadata")
    if set(obj) != _METADATA_FIELDS:
        raise MalformedError("issuer metadata holds other fields than those of version 1")
    try:
        names = obj["names"]
        if not isinstance(names, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in names.items()
        ):
            raise MalformedError("names map language codes to text")
        keys = tuple(_parse_key(k) for k in obj["keys"])
        lists = tuple(_parse_list(r) for r in obj["status_lists"])
        if len({r.id for r in lists}) != len(lists):
            raise MalformedError("two status lists have the same id")
        root = obj["root"]
        load_public_key(root)
        endorsements = tuple(obj["endorsements"])
        if not all(isinstance(e, bytes) for e in endorsements):
            raise MalformedError("endorsements are byte strings")
        meta = IssuerMetadata(
            issuer=validate_issuer_code(obj["iss"]),
            names=dict(names),
            root_key=root,
            keys=keys,
            status_lists=lists,
            status_list_size=_uint(obj["status_list_size"]),
            serial=_uint(obj["serial"]),
            issued_at=_required_dt(obj["iat"]),
            ttl=_duration(obj["ttl"]),
            endorsements=endorsements,
        )
    except (KeyError, TypeError) as exc:
        raise MalformedError("issuer metadata lacks a field or has a wrong type") from exc
    if meta.status_list_size < MIN_STATUS_LIST_SIZE or meta.status_list_size % 4:
        raise MalformedError("a status list holds at least 131,072 entries, a multiple of 4")
    return meta


def _parse_list(obj: Any) -> StatusListRef:
    if not isinstance(obj, Mapping) or set(obj) != _LIST_FIELDS:
        raise MalformedError("a status list reference is {id, uri}")
    return StatusListRef(id=_uint(obj["id"]), uri=_text(obj["uri"]))


def _parse_key(obj: Any) -> PublishedKey:
    if not isinstance(obj, Mapping) or set(obj) != _KEY_FIELDS:
        raise MalformedError("a published key has exactly kid, pub, state, nbf, exp and retired")
    try:
        state = KeyState(obj["state"])
    except ValueError as exc:
        raise MalformedError("unknown key state") from exc
    kid, pub = obj["kid"], obj["pub"]
    load_public_key(pub)
    if kid != key_id(pub):
        raise MalformedError("a published key's kid does not match its public key")
    published = PublishedKey(
        kid=kid,
        public_key=pub,
        state=state,
        not_before=_required_dt(obj["nbf"]),
        not_after=_dt(obj["exp"]),
        retired_at=_dt(obj["retired"]),
    )
    if state is KeyState.RETIRED and published.retired_at is None:
        raise MalformedError("a retired key gives its retirement time")
    if published.not_after is not None and published.not_after <= published.not_before:
        raise MalformedError("a published key's exp is not after its nbf")
    return published


def _uint(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_UINT:
        raise MalformedError("expected an integer from 0 to 2^64 - 1")
    return value


def _duration(value: Any) -> int:
    """A number of seconds, bounded like a NumericDate so that iat + ttl is a date."""
    if _uint(value) > MAX_NUMERIC_DATE:
        raise MalformedError("a duration in the metadata is out of range")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedError("expected text")
    return value
