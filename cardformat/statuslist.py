"""Status lists per draft-ietf-oauth-status-list, in their CWT form.

A card carries one index; the issuer publishes, per list, a signed token whose ``lst`` is the
zlib-compressed array of ``bits``-wide statuses. Verifiers download whole lists, so the issuer
never learns which card was checked (herd privacy, docs/federation.md).
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import cose
from .errors import (
    BadSignatureError,
    ExpiredError,
    MalformedError,
    NotYetValidError,
    RollbackError,
    UnknownKeyError,
)
from .keys import KeyResolver, check_key_validity, key_id
from .token import CLOCK_SKEW, MAX_NUMERIC_DATE

TYP_STATUS_LIST = "application/statuslist+cwt"
CLAIM_ISS = 1
CLAIM_SUB = 2
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_TTL = 65534
CLAIM_STATUS_LIST = 65533
ALLOWED_BITS = (1, 2, 4, 8)  # the draft's; this format's lists use STATUS_BITS only
STATUS_BITS = 2
_REQUIRED_CLAIMS = frozenset({CLAIM_ISS, CLAIM_SUB, CLAIM_IAT, CLAIM_TTL, CLAIM_STATUS_LIST})
_ALLOWED_CLAIMS = _REQUIRED_CLAIMS | {CLAIM_EXP}
MIN_STATUS_LIST_SIZE = 131_072  # herd privacy: no list is smaller (docs/federation.md)
MAX_STATUS_LIST_SIZE = 1 << 26  # refuse to inflate more than 64 Mi entries from the wire
_ZLIB_LEVEL = 9


class Status(IntEnum):
    VALID = 0
    REVOKED = 1
    SUSPENDED = 2


class StatusList:
    """A fixed-size array of ``bits``-wide statuses, packed least significant bit first."""

    __slots__ = ("_data", "_mask", "bits", "size")

    def __init__(self, size: int, bits: int = 2, *, data: bytes | bytearray | None = None) -> None:
        if bits not in ALLOWED_BITS:
            raise MalformedError("a status list has 1, 2, 4 or 8 bits per entry")
        if size <= 0 or (size * bits) % 8:
            raise MalformedError("a status list fills a whole number of bytes")
        length = size * bits // 8
        if data is not None and len(data) != length:
            raise MalformedError("the status list data does not match its size")
        self.size = size
        self.bits = bits
        self._mask = (1 << bits) - 1
        self._data = bytearray(data) if data is not None else bytearray(length)

    def get(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(index)
        position = index * self.bits
        return (self._data[position >> 3] >> (position & 7)) & self._mask

    def set(self, index: int, value: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(index)
        if not 0 <= value <= self._mask:
            raise ValueError(f"a {self.bits}-bit status is between 0 and {self._mask}")
        position = index * self.bits
        shift = position & 7
        byte = position >> 3
        self._data[byte] = (self._data[byte] & ~(self._mask << shift) & 0xFF) | (value << shift)

    def to_bytes(self) -> bytes:
        return bytes(self._data)

    def encode_lst(self) -> bytes:
        return zlib.compress(bytes(self._data), _ZLIB_LEVEL)

    def to_cbor(self) -> bytes:
        """The CBOR StatusList object: {"bits": n, "lst": zlib bytes}."""
        return cbor2.dumps({"bits": self.bits, "lst": self.encode_lst()})

    @classmethod
    def from_lst(cls, lst: bytes, *, bits: int) -> StatusList:
        if bits not in ALLOWED_BITS:
            raise MalformedError("a status list has 1, 2, 4 or 8 bits per entry")
        # Bound the inflated size: a few kilobytes on the wire could otherwise expand to gigabytes.
        limit = MAX_STATUS_LIST_SIZE * bits // 8
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(lst, limit + 1)
        except (zlib.error, TypeError) as exc:
            raise MalformedError("the status list is not zlib data") from exc
        if len(data) > limit or inflater.unconsumed_tail:
            raise MalformedError("the status list is too large")
        if not inflater.eof or inflater.unused_data:
            raise MalformedError("the status list is not one complete zlib stream")
        if not data:
            raise MalformedError("the status list is empty")
        return cls(len(data) * 8 // bits, bits, data=data)

    @classmethod
    def from_cbor(cls, data: bytes) -> StatusList:
        return cls._from_object(cose.loads(data))

    @classmethod
    def _from_object(cls, obj: object) -> StatusList:
        if not isinstance(obj, dict) or not {"bits", "lst"} <= set(obj):
            raise MalformedError("a StatusList is a map with bits and lst")
        bits, lst = obj["bits"], obj["lst"]
        if type(bits) is not int or not isinstance(lst, bytes):
            raise MalformedError("a StatusList has an integer bits and a byte string lst")
        return cls.from_lst(lst, bits=bits)


def allocate_index(size: int, taken: Callable[[int], bool]) -> int:
    """A uniformly random index in [0, size) for which ``taken`` is false.

    Random draws first (fast while the list is sparse); after many collisions, a scan from a
    random start, so a nearly full list still yields its last free indices. Raises ValueError
    when the list is full: the caller then opens a new list.
    """
    for _ in range(64):
        candidate = secrets.randbelow(size)
        if not taken(candidate):
            return candidate
    start = secrets.randbelow(size)
    for offset in range(size):
        candidate = (start + offset) % size
        if not taken(candidate):
            return candidate
    raise ValueError("the status list is full")


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifiedStatusList:
    issuer: str
    uri: str
    status_list: StatusList
    issued_at: datetime
    expires_at: datetime | None
    ttl: int | None


def sign_status_list(
    status_list: StatusList,
    *,
    issuer: str,
    uri: str,
    signing_key: Ed25519PrivateKey,
    now: datetime,
    ttl: int,
    expires_at: datetime | None = None,
) -> bytes:
    """The Status List Token (CWT) for one list, signed by a signing key of the issuer."""
    claims: dict[int, object] = {
        CLAIM_ISS: issuer,
        CLAIM_SUB: uri,
        CLAIM_IAT: int(now.timestamp()),
        CLAIM_TTL: ttl,
        CLAIM_STATUS_LIST: {"bits": status_list.bits, "lst": status_list.encode_lst()},
    }
    if expires_at is not None:
        claims[CLAIM_EXP] = int(expires_at.timestamp())
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: key_id(signing_key),
        cose.HEADER_TYP: TYP_STATUS_LIST,
    }
    return cose.sign1(header, cbor2.dumps(claims, canonical=True), signing_key)


def verify_status_list(
    token: bytes,
    *,
    resolve_key: KeyResolver,
    now: datetime,
    expected_uri: str | None = None,
    expected_size: int | None = None,
    min_issued_at: datetime | None = None,
) -> VerifiedStatusList:
    """Verify a Status List Token (docs/card-format.md section 6), in the order given there.

    ``expected_uri`` and ``expected_size`` come from the issuer's metadata (the URI the list
    was fetched from, ``status_list_size``); ``min_issued_at`` is the issue time of the copy
    already stored, below which the token is a rollback.
    """
    if not isinstance(token, bytes) or len(token) > MAX_STATUS_LIST_SIZE:
        raise MalformedError("a status list token is a byte string of bounded size")
    message = cose.decode_sign1(token)
    kid = cose.read_header(message, typ=TYP_STATUS_LIST)
    key = resolve_key(kid)
    if key is None:
        raise UnknownKeyError("no trusted issuer has this status list's signing key")
    cose.verify_signature(message, key.public_key)
    claims = cose.loads_deterministic(message.payload)
    if not isinstance(claims, dict) or not _REQUIRED_CLAIMS <= set(claims) <= _ALLOWED_CLAIMS:
        raise MalformedError("a status list token has iss, sub, iat, ttl, status_list, maybe exp")
    uri, iat, ttl, exp = (
        claims[CLAIM_SUB],
        claims[CLAIM_IAT],
        claims[CLAIM_TTL],
        claims.get(CLAIM_EXP),
    )
    if not isinstance(claims[CLAIM_ISS], str) or not isinstance(uri, str):
        raise MalformedError("the status list token's iss and sub are text")
    if not all(type(t) is int and 0 <= t <= MAX_NUMERIC_DATE for t in (iat, ttl)) or not (
        exp is None or (type(exp) is int and iat < exp <= MAX_NUMERIC_DATE)
    ):
        raise MalformedError("the status list token's iat, ttl or exp is out of range")
    listed = claims[CLAIM_STATUS_LIST]
    if not isinstance(listed, dict) or set(listed) != {"bits", "lst"}:
        # The draft allows more (aggregation_uri); this format's lists carry nothing else.
        raise MalformedError("a StatusList of this format holds exactly bits and lst")
    status_list = StatusList._from_object(listed)
    if status_list.bits != STATUS_BITS:
        raise MalformedError("a status list of this format has 2 bits per entry")
    if claims[CLAIM_ISS] != key.issuer:
        raise BadSignatureError("the status list names another issuer than its signing key")
    if expected_uri is not None and uri != expected_uri:
        raise MalformedError("the status list token is for another list")
    if expected_size is not None and status_list.size != expected_size:
        raise MalformedError("the status list does not hold the number of entries announced")
    issued_at = datetime.fromtimestamp(iat, UTC)
    expires_at = None if exp is None else datetime.fromtimestamp(exp, UTC)
    check_key_validity(key, issued_at, "status list")
    if issued_at > now + CLOCK_SKEW:
        raise NotYetValidError("the status list is dated in the future")
    if expires_at is not None and now >= expires_at:
        raise ExpiredError("the status list has expired")
    if min_issued_at is not None and issued_at < min_issued_at:
        raise RollbackError("the status list is older than the copy already accepted")
    return VerifiedStatusList(
        issuer=key.issuer,
        uri=uri,
        status_list=status_list,
        issued_at=issued_at,
        expires_at=expires_at,
        ttl=ttl,
    )


def is_stale(
    issued_at: datetime, expires_at: datetime | None, *, now: datetime, max_age: timedelta
) -> bool:
    """A list is too old to rely on past the verifier's maximum age or past its own expiry
    (docs/card-format.md section 6.1)."""
    return now - issued_at > max_age or (expires_at is not None and now >= expires_at)


def card_status(
    index: int,
    *,
    size: int,
    lists: Mapping[int, VerifiedStatusList],
    now: datetime,
    max_age: timedelta,
) -> tuple[str, datetime | None]:
    """A verified card's status (section 6.1) and when its issuer vouched for it.

    ``lists`` holds the accepted lists by their ``id``: index ``i`` is in the list whose id is
    ``i div size``, whatever its place in the metadata. Anything short of a fresh list with a
    meaningful entry gives ``status_unknown``, never a silent ``valid``.
    """
    list_id, position = divmod(index, size)
    listed = lists.get(list_id)
    if listed is None:
        return "status_unknown", None
    checked_at = listed.issued_at
    if is_stale(listed.issued_at, listed.expires_at, now=now, max_age=max_age):
        return "status_unknown", checked_at
    if not 0 <= position < listed.status_list.size:
        return "status_unknown", checked_at
    return _STATUS_RESULTS.get(listed.status_list.get(position), "status_unknown"), checked_at


_STATUS_RESULTS: dict[int, str] = {
    Status.VALID: "valid",
    Status.REVOKED: "revoked",
    Status.SUSPENDED: "suspended",
}
