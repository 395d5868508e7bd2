"""Network directories (docs/card-format.md section 9): the committed vectors, signing and the
rules a coordinator's tool relies on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import cardformat as cf
from cardformat.network import (
    DEFAULT_VALIDITY,
    EXPIRY_WARNING,
    load_signed_directory,
)

from .conftest import load_vectors

DOCUMENT = load_vectors("network.json")
T0 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("vector", DOCUMENT["vectors"], ids=lambda v: v["name"])
def test_vector(vector: dict) -> None:  # type: ignore[type-arg]
    now = datetime.fromisoformat(vector["now"])
    pinned = vector["pinned_fingerprint"]
    previous = (
        None
        if vector["previous"] is None
        else load_signed_directory(bytes.fromhex(vector["previous"]), pinned_fingerprint=pinned)
    )
    data = bytes.fromhex(vector["document"])
    if vector["expected"] in {"valid", "stale"}:
        directory = cf.verify_directory(data, pinned_fingerprint=pinned, now=now, previous=previous)
        assert directory.is_late(now) == (vector["expected"] == "stale")
        return
    with pytest.raises(cf.CardFormatError) as raised:
        cf.verify_directory(data, pinned_fingerprint=pinned, now=now, previous=previous)
    assert type(raised.value).__name__ == vector["error"]
    assert raised.value.code == vector["expected"]


def _network(root: cf.NetworkDirectory | None = None) -> tuple[object, cf.NetworkDirectory]:
    key = cf.generate_key()
    city = cf.generate_key()
    directory = cf.NetworkDirectory(
        network="NET",
        names={"en": "A network"},
        root_key=cf.public_key_bytes(key),
        serial=1,
        issued_at=T0,
        next_update=T0 + timedelta(days=7),
        expires_at=T0 + DEFAULT_VALIDITY,
        members=(
            cf.Member(
                issuer="FR SXB",
                names={"fr": "Strasbourg"},
                metadata_url="https://cards.example/.well-known/citycard/issuer",
                root_key=cf.public_key_bytes(city),
                state=cf.MemberState.ACTIVE,
                since=T0,
            ),
        ),
        history=(cf.HistoryEvent(at=T0, issuer="FR SXB", event=cf.Event.ADMITTED, reason=""),),
    )
    return key, directory


def test_sign_and_verify_round_trip() -> None:
    key, directory = _network()
    data = cf.sign_directory(directory, root_key=key)  # type: ignore[arg-type]
    verified = cf.verify_directory(
        data, pinned_fingerprint=cf.fingerprint(directory.root_key), now=T0 + timedelta(days=1)
    )
    assert verified == directory
    assert verified.member("FR SXB") == directory.members[0]
    assert verified.member("BR SAO") is None
    assert verified.default_name == "A network"


def test_signing_refuses_a_directory_its_history_contradicts() -> None:
    key, directory = _network()
    suspended = replace(
        directory,
        members=(replace(directory.members[0], state=cf.MemberState.SUSPENDED),),
    )
    with pytest.raises(cf.MalformedError, match="history"):
        cf.sign_directory(suspended, root_key=key)  # type: ignore[arg-type]


def test_signing_refuses_another_root() -> None:
    _key, directory = _network()
    with pytest.raises(ValueError, match="root key it names"):
        cf.sign_directory(directory, root_key=cf.generate_key())


def test_expiry_warning_and_lateness() -> None:
    _key, directory = _network()
    assert not directory.is_late(T0 + timedelta(days=6))
    assert directory.is_late(T0 + timedelta(days=7))
    assert not directory.expires_soon(directory.expires_at - EXPIRY_WARNING - timedelta(seconds=1))
    assert directory.expires_soon(directory.expires_at - EXPIRY_WARNING)
    assert directory.is_expired(directory.expires_at)


def test_network_codes() -> None:
    assert cf.validate_network_code("MIGRATION-ROUTES") == "MIGRATION-ROUTES"
    for bad in ("", "m", "1NET", "NET WORK", "A" * 33, 7):
        with pytest.raises(cf.MalformedError):
            cf.validate_network_code(bad)


def test_names_and_bounds() -> None:
    key, directory = _network()
    member = directory.members[0]
    assert member.default_name == "Strasbourg"
    assert replace(member, names={}).default_name == "FR SXB"
    assert replace(directory, names={}).default_name == "NET"
    with pytest.raises(cf.MalformedError, match="4 MiB"):
        cf.verify_directory(
            b"\xd2" * (4 << 20 | 1),
            pinned_fingerprint=cf.fingerprint(key),
            now=T0,  # type: ignore[arg-type]
        )


def test_a_previous_directory_of_another_network_is_refused() -> None:
    key, directory = _network()
    data = cf.sign_directory(directory, root_key=key)  # type: ignore[arg-type]
    other = replace(directory, network="OTHER")
    with pytest.raises(cf.BadSignatureError, match="another network"):
        cf.verify_directory(
            data, pinned_fingerprint=cf.fingerprint(directory.root_key), now=T0, previous=other
        )
