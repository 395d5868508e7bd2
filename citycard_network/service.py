"""What the coordinator does to the network: found it, admit, suspend, reinstate and remove
members, publish the signed directory, rotate the root.

Every change is one transaction on the state file (state.StateStore) and one event appended to
the history; the history is never rewritten. Times are whole seconds, as the directory carries
them, and never go backwards (an event is never dated before the one before it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardformat import (
    CardFormatError,
    Event,
    HistoryEvent,
    Member,
    MemberState,
    NetworkDirectory,
    endorse_root,
    fingerprint,
    generate_key,
    normalize_fingerprint,
    public_key_bytes,
    sign_directory,
    validate_network_code,
    verify_metadata,
)
from cardformat.metadata import MAX_METADATA_BYTES
from cardformat.network import (
    DEFAULT_UPDATE_INTERVAL,
    DEFAULT_VALIDITY,
    EXPIRY_WARNING,
    WELL_KNOWN_PATH,
    validate_reason,
    validate_url,
)
from webguard.fetch import FetchError, check_url
from webguard.keyseal import KeySealer, SealedKeyError

from .state import NetworkState, StateError, StateStore, write_atomically

Fetch = Callable[..., bytes]


class NetworkError(RuntimeError):
    """A command cannot be carried out; the message says why and nothing was changed."""


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _event_time(state: NetworkState, now: datetime) -> datetime:
    moment = _second(now)
    if state.history and state.history[-1].at > moment:
        return state.history[-1].at  # a clock set back must not break the history's order
    return moment


def _code_key(code: str) -> str:
    return "".join(code.split()).upper()


def find_member(state: NetworkState, code: str) -> Member:
    for member in state.members.values():
        if _code_key(member.issuer) == _code_key(code):
            return member
    raise NetworkError(f"{code!r} is not a member of {state.network}")


def _reason(text: str, *, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise NetworkError("give a reason (--reason): it is published in the history")
    try:
        return validate_reason(text)
    except CardFormatError as exc:
        raise NetworkError(str(exc)) from None


def _open_root(store: StateStore, passphrase: bytes, state: NetworkState) -> Ed25519PrivateKey:
    """The root private key, checked against the public root the state names.

    A rotation interrupted between writing the state and moving the new key into place leaves
    the new key beside the old one; it is taken then, as the state already names it.
    """
    sealer = KeySealer(passphrase)
    try:
        key = sealer.open(store.read_key())
        if public_key_bytes(key) != state.root_key and store.next_key_path.exists():
            candidate = sealer.open(store.next_key_path.read_bytes())
            if public_key_bytes(candidate) == state.root_key:
                store.next_key_path.replace(store.key_path)
                key = candidate
    except SealedKeyError as exc:
        raise NetworkError(f"cannot open the network's root key: {exc}") from None
    if public_key_bytes(key) != state.root_key:
        raise NetworkError("root.key is not the network's root named in network.json")
    return key


def init_network(
    store: StateStore, *, code: str, names: dict[str, str], passphrase: bytes
) -> NetworkState:
    """Create the network and its root key (sealed); refuses when the folder has one already."""
    try:
        validate_network_code(code)
    except CardFormatError as exc:
        raise NetworkError(str(exc)) from None
    if not names or not all(n.strip() for n in names.values()):
        raise NetworkError("give the network's name (--name en=NAME, repeatable)")
    with store.locked():
        if store.exists() or store.key_path.exists():
            raise NetworkError(f"{store.folder} already holds a network; nothing was changed")
        key = generate_key()
        state = NetworkState(network=code, names=names, root_key=public_key_bytes(key))
        store.write_key(KeySealer(passphrase).seal(key))
        store.write(state)
    return state


def add_member(
    store: StateStore,
    *,
    metadata_url: str,
    pinned_fingerprint: str,
    reason: str,
    now: datetime,
    fetch: Fetch,
) -> Member:
    """Admit a city after checking its metadata against the fingerprint exchanged with it."""
    try:
        pinned = normalize_fingerprint(pinned_fingerprint)
        validate_url(metadata_url)
        check_url(metadata_url)
    except (CardFormatError, FetchError) as exc:
        raise NetworkError(str(exc)) from None
    try:
        data = fetch(metadata_url, max_bytes=MAX_METADATA_BYTES)
    except FetchError as exc:
        raise NetworkError(str(exc)) from None
    try:
        metadata = verify_metadata(data, pinned_fingerprint=pinned, now=now)
    except CardFormatError as exc:
        raise NetworkError(
            f"the city's metadata does not verify against that fingerprint ({exc.code}: {exc}); "
            "check it with the city out of band. Nothing was changed."
        ) from None
    why = _reason(reason, required=False)
    with store.transaction() as state:
        if any(_code_key(c) == _code_key(metadata.issuer) for c in state.members):
            raise NetworkError(f"{metadata.issuer} is already a member of {state.network}")
        at = _event_time(state, now)
        member = Member(
            issuer=metadata.issuer,
            names=dict(metadata.names),
            metadata_url=metadata_url,
            root_key=metadata.root_key,
            state=MemberState.ACTIVE,
            since=at,
        )
        state.members[member.issuer] = member
        state.history.append(
            HistoryEvent(at=at, issuer=member.issuer, event=Event.ADMITTED, reason=why)
        )
    return member


_TRANSITIONS = {
    Event.SUSPENDED: (MemberState.ACTIVE, MemberState.SUSPENDED),
    Event.REINSTATED: (MemberState.SUSPENDED, MemberState.ACTIVE),
}


def change_member(
    store: StateStore, code: str, event: Event, *, reason: str, now: datetime
) -> Member | None:
    """Suspend, reinstate or remove a member; returns it as it is now (None once removed)."""
    why = _reason(reason, required=event in (Event.SUSPENDED, Event.REMOVED))
    with store.transaction() as state:
        member = find_member(state, code)
        at = _event_time(state, now)
        if event is Event.REMOVED:
            del state.members[member.issuer]
            changed = None
        else:
            before, after = _TRANSITIONS[event]
            if member.state is not before:
                raise NetworkError(f"{member.issuer} is {member.state.value}: nothing to do")
            changed = replace(member, state=after, since=at)
            state.members[member.issuer] = changed
        state.history.append(HistoryEvent(at=at, issuer=member.issuer, event=event, reason=why))
    return changed


@dataclass(frozen=True)
class Publication:
    directory: NetworkDirectory
    path: Path
    size: int


def publish(
    store: StateStore,
    *,
    out: Path,
    passphrase: bytes,
    now: datetime,
    update_interval: timedelta = DEFAULT_UPDATE_INTERVAL,
    validity: timedelta = DEFAULT_VALIDITY,
) -> Publication:
    """Sign the next directory (serial + 1) and write it to OUT/.well-known/citycard/network."""
    if not timedelta(0) < update_interval <= validity:
        raise NetworkError("the next update must come after publication and before expiry")
    with store.locked():
        state = store.read()
        key = _open_root(store, passphrase, state)
        issued = _event_time(state, now)
        directory = NetworkDirectory(
            network=state.network,
            names=dict(state.names),
            root_key=state.root_key,
            serial=state.serial + 1,
            issued_at=issued,
            next_update=issued + update_interval,
            expires_at=issued + validity,
            members=tuple(sorted(state.members.values(), key=lambda m: m.issuer.encode())),
            history=tuple(state.history),
            endorsements=tuple(state.endorsements),
        )
        try:
            data = sign_directory(directory, root_key=key)
        except CardFormatError as exc:  # the state was edited by hand into an impossible one
            raise NetworkError(f"the network's state cannot be published: {exc}") from None
        # The serial is recorded before the file is written: a failed write burns a serial,
        # while the other order could publish two different directories under one serial.
        state.serial = directory.serial
        store.write(state)
        path = out / WELL_KNOWN_PATH.lstrip("/")
        try:
            write_atomically(path, data, mode=0o644)
        except OSError as exc:
            raise NetworkError(f"cannot write {path}: {exc.strerror}") from None
        state.published_at = directory.issued_at
        state.published_expires_at = directory.expires_at
        store.write(state)
    return Publication(directory=directory, path=path, size=len(data))


def rotate_root(store: StateStore, *, passphrase: bytes, now: datetime) -> str:
    """A new root endorsed by the current one; the old private key is overwritten. Returns the
    new fingerprint. Verifiers follow the endorsement at the next publication."""
    with store.locked():
        state = store.read()
        old = _open_root(store, passphrase, state)
        new = generate_key()
        new_public = public_key_bytes(new)
        state.endorsements.append(
            endorse_root(old_root=old, new_root=new_public, issuer=state.network, now=_second(now))
        )
        state.root_key = new_public
        # New key beside the old, then the state naming it, then the key into place: a crash
        # at any point leaves a root that _open_root can open and the state names.
        write_atomically(store.next_key_path, KeySealer(passphrase).seal(new), mode=0o600)
        store.write(state)
        store.next_key_path.replace(store.key_path)
    return fingerprint(new_public)


def expiry_warning(state: NetworkState, now: datetime) -> str | None:
    """What to tell the coordinator when the directory verifiers hold is about to expire."""
    expires = state.published_expires_at
    if expires is None:
        return "the directory has never been published: run `citycard-network publish`"
    if now >= expires:
        return f"the directory published last EXPIRED at {expires:%Y-%m-%d %H:%M}Z: publish now"
    if now >= expires - EXPIRY_WARNING:
        days = (expires - now).days
        return (
            f"the directory published last expires at {expires:%Y-%m-%d %H:%M}Z "
            f"(in {days} day(s)): publish again before then"
        )
    return None


__all__ = [
    "NetworkError",
    "Publication",
    "StateError",
    "add_member",
    "change_member",
    "expiry_warning",
    "find_member",
    "init_network",
    "publish",
    "rotate_root",
]
