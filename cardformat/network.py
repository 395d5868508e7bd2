"""A network's member directory: the signed list of cities a network vouches for.

A network of cities (a national association, a migration-route network) has a coordinator with
its own root key, which verifiers pin once by fingerprint. The coordinator publishes a
COSE_Sign1 signed by that root over a CBOR map (docs/card-format.md section 9): the members with
their issuer metadata URL, their root key and their state, and the whole history of admissions,
suspensions and removals. A verifier then treats each active member as if it had pinned that
member's root itself. The root rotates by endorsement, exactly as a city's does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import cose
from .errors import (
    BadSignatureError,
    ExpiredError,
    MalformedError,
    NotYetValidError,
    RollbackError,
)
from .keys import key_id, load_public_key, normalize_fingerprint, public_key_bytes
from .metadata import (
    FORMAT_VERSION,
    _deterministic_key,
    _duration,
    _required_dt,
    _uint,
    check_root_chain,
)
from .token import CLOCK_SKEW, validate_issuer_code

TYP_DIRECTORY = "application/citycard-network+cbor"
WELL_KNOWN_PATH = "/.well-known/citycard/network"
MAX_DIRECTORY_BYTES = 4 << 20
# Offline verifiers must be able to go a month without a new copy (a national list that was not
# re-signed for two days once stopped every verifier of a country); the coordinator re-signs
# weekly, and both sides warn when a third of the validity is left.
DEFAULT_VALIDITY = timedelta(days=30)
DEFAULT_UPDATE_INTERVAL = timedelta(days=7)
EXPIRY_WARNING = timedelta(days=10)
MAX_REASON_CHARS = 500
MAX_URL_CHARS = 2048

_NETWORK_CODE = re.compile(r"[A-Z][A-Z0-9-]{1,31}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_FIELDS = frozenset(
    {"v", "net", "names", "root", "serial", "iat", "next", "exp", "members", "history", "end"}
)
_MEMBER_FIELDS = frozenset({"iss", "names", "url", "root", "state", "since"})


class MemberState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Event(StrEnum):
    """What can happen to a member; the history holds them in order, never rewritten."""

    ADMITTED = "admitted"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REMOVED = "removed"


# The state each event leaves a member in (None: not a member), and the states it may follow.
_AFTER = {
    Event.ADMITTED: MemberState.ACTIVE,
    Event.SUSPENDED: MemberState.SUSPENDED,
    Event.REINSTATED: MemberState.ACTIVE,
    Event.REMOVED: None,
}
_ALLOWED_FROM: dict[Event, tuple[MemberState | None, ...]] = {
    Event.ADMITTED: (None,),
    Event.SUSPENDED: (MemberState.ACTIVE,),
    Event.REINSTATED: (MemberState.SUSPENDED,),
    Event.REMOVED: (MemberState.ACTIVE, MemberState.SUSPENDED),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    issuer: str
    names: dict[str, str]
    metadata_url: str
    root_key: bytes
    state: MemberState
    since: datetime

    @property
    def default_name(self) -> str:
        return self.names[min(self.names, key=_deterministic_key)] if self.names else self.issuer


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEvent:
    at: datetime
    issuer: str
    event: Event
    reason: str


@dataclass(frozen=True, kw_only=True)
class NetworkDirectory:
    network: str
    names: dict[str, str]
    root_key: bytes
    serial: int
    issued_at: datetime
    next_update: datetime
    expires_at: datetime
    members: tuple[Member, ...]
    history: tuple[HistoryEvent, ...]
    endorsements: tuple[bytes, ...] = field(default=())

    @property
    def default_name(self) -> str:
        return self.names[min(self.names, key=_deterministic_key)] if self.names else self.network

    def member(self, issuer: str) -> Member | None:
        for member in self.members:
            if member.issuer == issuer:
                return member
        return None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def is_late(self, now: datetime) -> bool:
        """Past next-update: still usable until it expires, but the coordinator is late."""
        return now >= self.next_update

    def expires_soon(self, now: datetime) -> bool:
        return now >= self.expires_at - EXPIRY_WARNING


def validate_network_code(code: Any) -> str:
    if not isinstance(code, str) or not _NETWORK_CODE.fullmatch(code):
        raise MalformedError(
            "a network code is 2 to 32 upper-case letters, digits or hyphens, from a letter"
        )
    return code


def validate_reason(reason: Any) -> str:
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS or _CONTROL.search(reason):
        raise MalformedError(f"a reason is text of at most {MAX_REASON_CHARS} characters")
    if reason != reason.strip():
        raise MalformedError("a reason does not start or end with white space")
    return reason


def validate_url(url: Any) -> str:
    if (
        not isinstance(url, str)
        or len(url) > MAX_URL_CHARS
        or not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url)
    ):
        raise MalformedError("a metadata URL is an http(s) URL without white space")
    return url


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def payload_of(directory: NetworkDirectory) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "net": directory.network,
        "names": dict(directory.names),
        "root": directory.root_key,
        "serial": directory.serial,
        "iat": _ts(directory.issued_at),
        "next": _ts(directory.next_update),
        "exp": _ts(directory.expires_at),
        "members": [
            {
                "iss": m.issuer,
                "names": dict(m.names),
                "url": m.metadata_url,
                "root": m.root_key,
                "state": m.state.value,
                "since": _ts(m.since),
            }
            for m in directory.members
        ],
        "history": [[_ts(e.at), e.issuer, e.event.value, e.reason] for e in directory.history],
        "end": list(directory.endorsements),
    }


def sign_directory(directory: NetworkDirectory, *, root_key: Ed25519PrivateKey) -> bytes:
    """Sign a directory; refuses one that its own verification would refuse as malformed."""
    if public_key_bytes(root_key) != directory.root_key:
        raise ValueError("the directory must be signed by the root key it names")
    payload = cbor2.dumps(payload_of(directory), canonical=True)
    _parse(cose.loads_deterministic(payload))  # the same rules a verifier applies
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: key_id(root_key),
        cose.HEADER_TYP: TYP_DIRECTORY,
    }
    return cose.sign1(header, payload, root_key)


def verify_directory(
    data: bytes,
    *,
    pinned_fingerprint: str,
    now: datetime,
    previous: NetworkDirectory | None = None,
) -> NetworkDirectory:
    """Steps N1 to N8 of docs/card-format.md section 9, the first failure deciding.

    ``previous`` is the directory last accepted from this network: a lower serial, another
    directory under the same serial, or a history that does not extend its history is refused.
    """
    directory = load_signed_directory(data, pinned_fingerprint=pinned_fingerprint)
    if directory.issued_at > now + CLOCK_SKEW:  # N6
        raise NotYetValidError("the directory is dated in the future")
    if previous is not None:  # N7
        _check_succession(previous, directory)
    if directory.is_expired(now):  # N8
        raise ExpiredError("the directory has expired")
    return directory


def load_signed_directory(data: bytes, *, pinned_fingerprint: str) -> NetworkDirectory:
    """Steps N1 to N5 only: a directory accepted before, read again from storage.

    Its times and succession were checked when it was accepted; whether it has expired since
    is for the caller to judge at the time it uses it.
    """
    if not isinstance(data, bytes) or len(data) > MAX_DIRECTORY_BYTES:
        raise MalformedError("a network directory is a byte string of at most 4 MiB")
    message = cose.decode_sign1(data)  # N1
    kid = cose.read_header(message, typ=TYP_DIRECTORY)
    directory = _parse(cose.loads_deterministic(message.payload))  # N2
    if kid != key_id(directory.root_key):  # N3
        raise BadSignatureError("the directory is not signed by the root it names")
    check_root_chain(  # N4
        directory.root_key,
        directory.endorsements,
        directory.network,
        normalize_fingerprint(pinned_fingerprint),
    )
    cose.verify_signature(message, load_public_key(directory.root_key))  # N5
    return directory


def _check_succession(previous: NetworkDirectory, directory: NetworkDirectory) -> None:
    if directory.network != previous.network:
        raise BadSignatureError("the directory is another network's")
    if directory.serial < previous.serial:
        raise RollbackError(
            f"serial {directory.serial} is lower than {previous.serial} already accepted"
        )
    if directory.serial == previous.serial and directory != previous:
        raise RollbackError(f"another directory under serial {directory.serial} was accepted")
    if directory.history[: len(previous.history)] != previous.history:
        raise RollbackError("the history does not extend the history already accepted")


def _parse(obj: Any) -> NetworkDirectory:
    if not isinstance(obj, Mapping) or set(obj) != _FIELDS or obj.get("v") != FORMAT_VERSION:
        raise MalformedError("not a version 1 network directory")
    try:
        root = obj["root"]
        load_public_key(root)
        endorsements = tuple(obj["end"])
        if not all(isinstance(e, bytes) for e in endorsements):
            raise MalformedError("endorsements are byte strings")
        if not isinstance(obj["members"], list) or not isinstance(obj["history"], list):
            raise MalformedError("members and history are arrays")
        directory = NetworkDirectory(
            network=validate_network_code(obj["net"]),
            names=_names(obj["names"]),
            root_key=root,
            serial=_uint(obj["serial"]),
            issued_at=_required_dt(obj["iat"]),
            next_update=_required_dt(obj["next"]),
            expires_at=_required_dt(obj["exp"]),
            members=tuple(_member(m) for m in obj["members"]),
            history=tuple(_event(e) for e in obj["history"]),
            endorsements=endorsements,
        )
    except (KeyError, TypeError) as exc:
        raise MalformedError("the directory lacks a field or has a wrong type") from exc
    if not directory.issued_at < directory.next_update <= directory.expires_at:
        raise MalformedError("the directory's times are not iat < next <= exp")
    _duration(_ts(directory.expires_at) - _ts(directory.issued_at))
    codes = [m.issuer for m in directory.members]
    if codes != sorted(set(codes), key=lambda c: c.encode("utf-8")):
        raise MalformedError("members are in ascending order of issuer code, each once")
    _check_history(directory)
    return directory


def _check_history(directory: NetworkDirectory) -> None:
    """Replay the history: each event follows from the state before it, and the states and
    ``since`` times it ends with are exactly the members listed."""
    state: dict[str, tuple[MemberState | None, datetime]] = {}
    last = None
    for event in directory.history:
        if last is not None and event.at < last:
            raise MalformedError("the history is not in time order")
        if event.at > directory.issued_at:
            raise MalformedError("the history holds an event after the directory's iat")
        last = event.at
        before = state.get(event.issuer, (None, event.at))[0]
        if before not in _ALLOWED_FROM[event.event]:
            raise MalformedError(f"a member cannot be {event.event.value} from that state")
        if event.event in (Event.SUSPENDED, Event.REMOVED) and not event.reason:
            raise MalformedError("a suspension or removal gives its reason")
        state[event.issuer] = (_AFTER[event.event], event.at)
    current = {code: entry for code, entry in state.items() if entry[0] is not None}
    listed = {m.issuer: (m.state, m.since) for m in directory.members}
    if listed != current:
        raise MalformedError("the members are not what the history leads to")


def _names(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise MalformedError("names map language tags to text")
    return dict(value)


def _member(obj: Any) -> Member:
    if not isinstance(obj, Mapping) or set(obj) != _MEMBER_FIELDS:
        raise MalformedError("a member has exactly iss, names, url, root, state and since")
    try:
        state = MemberState(obj["state"])
    except ValueError as exc:
        raise MalformedError("a member is active or suspended") from exc
    load_public_key(obj["root"])
    return Member(
        issuer=validate_issuer_code(obj["iss"]),
        names=_names(obj["names"]),
        metadata_url=validate_url(obj["url"]),
        root_key=obj["root"],
        state=state,
        since=_required_dt(obj["since"]),
    )


def _event(obj: Any) -> HistoryEvent:
    if not isinstance(obj, list) or len(obj) != 4:
        raise MalformedError("a history event is [at, iss, event, reason]")
    try:
        event = Event(obj[2])
    except ValueError as exc:
        raise MalformedError("unknown history event") from exc
    return HistoryEvent(
        at=_required_dt(obj[0]),
        issuer=validate_issuer_code(obj[1]),
        event=event,
        reason=validate_reason(obj[3]),
    )
