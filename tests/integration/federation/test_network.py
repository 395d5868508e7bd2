"""A network of cities on loopback: each member a real issuance app, a coordinator running the
real ``citycard-network`` command, and a verifier that pinned only the network.

Every member's cards verify; a member removed and published is unknown_issuer after one sync; a
suspended one is never valid; a tampered, rolled-back, expired or wrongly signed directory
leaves the last good copy with a clear report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cbor2
import pytest

from .conftest import City, Verifier
from .network_fixtures import Coordinator

NETWORK = "MIGRATION-ROUTES"
# 30 UN/LOCODE-shaped codes: two letters, a space, three letters.
CODES = [
    f"{country} {city}"
    for country in ("FR", "BR", "TN")
    for city in ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "JJJ", "KKK")
]


def _join(coordinator: Coordinator, city: City, reason: str = "") -> None:
    args = [
        "members",
        "add",
        "--metadata-url",
        city.metadata_url,
        "--fingerprint",
        city.fingerprint,
    ]
    coordinator.cli(*args, *(["--reason", reason] if reason else []))


def _pin_network(verifier: Verifier, coordinator: Coordinator) -> None:
    result = verifier.cli(
        "networks",
        "add",
        "--directory-url",
        coordinator.directory_url,
        "--fingerprint",
        coordinator.fingerprint,
    )
    assert result.exit_code == 0, result.output


def test_thirty_cities_recognised_through_one_pinned_network(
    make_city: Callable[[str, str], City],
    make_verifier: Callable[..., Verifier],
    make_coordinator: Callable[[str], Coordinator],
) -> None:
    coordinator = make_coordinator(NETWORK)
    cities = [make_city(code, f"City {code}") for code in CODES]
    for city in cities:
        _join(coordinator, city, "founding member")
    published = coordinator.publish()
    assert f"serial 1: {len(CODES)} member(s)" in published.output

    verifier = make_verifier()
    _pin_network(verifier, coordinator)  # the only thing this verifier pinned
    cards = {city.code: city.issue(f"Resident of {city.code}").qr for city in cities}
    for code, qr in cards.items():
        answer = verifier.verify_full(qr)
        assert answer["result"] == "valid", code
        assert answer["issuer"]["networks"] == [
            {"code": NETWORK, "name": "Migration-Routes network"}
        ]

    listing = verifier.cli("partners", "list").output
    assert listing.count(f"trusted:      through network {NETWORK}") == len(CODES)
    networks = verifier.cli("networks", "list").output
    assert f"member {CODES[0]}: active" in networks

    # Removed and published: unknown_issuer after one sync.
    removed, suspended = cities[3], cities[7]
    coordinator.cli("members", "remove", removed.code, "--reason", "left the network")
    coordinator.cli("members", "suspend", suspended.code, "--reason", "key compromise suspected")
    coordinator.publish()
    result = verifier.sync()
    assert result.exit_code == 0, result.output
    assert f"no longer listed (now unknown_issuer): {removed.code}" in result.output
    assert verifier.verify(cards[removed.code]) == "unknown_issuer"
    # Suspended: never valid, whatever its own status list says.
    assert verifier.verify(cards[suspended.code]) == "status_unknown"
    assert "SUSPENDED (never valid)" in verifier.cli("partners", "list").output
    assert verifier.verify(cards[cities[0].code]) == "valid"

    coordinator.cli("members", "reinstate", suspended.code)
    coordinator.publish()
    assert verifier.sync().exit_code == 0
    assert verifier.verify(cards[suspended.code]) == "valid"

    # The history keeps every admission, suspension, reinstatement and removal, with reasons.
    directory = cbor2.loads(cbor2.loads(coordinator.published).value[2])
    events = [(e[1], e[2], e[3]) for e in directory["history"]]
    assert (removed.code, "removed", "left the network") in events
    assert (suspended.code, "suspended", "key compromise suspected") in events
    assert (suspended.code, "reinstated", "") in events
    assert len(events) == len(CODES) + 3


class TwoCityNetwork(NamedTuple):
    coordinator: Coordinator
    cities: list[City]
    verifier: Verifier
    cards: dict[str, str]  # by city code: a valid card's QR text


@pytest.fixture
def two_city_network(
    make_city: Callable[[str, str], City],
    make_verifier: Callable[..., Verifier],
    make_coordinator: Callable[[str], Coordinator],
) -> TwoCityNetwork:
    """Two cities in one published network, a verifier that pinned only the network, and a
    card of each city that verifies there."""
    coordinator = make_coordinator(NETWORK)
    cities = [make_city("FR SXB", "Strasbourg"), make_city("BR SAO", "São Paulo")]
    for city in cities:
        _join(coordinator, city)
    coordinator.publish()
    verifier = make_verifier()
    _pin_network(verifier, coordinator)
    cards = {city.code: city.issue().qr for city in cities}
    assert all(verifier.verify(qr) == "valid" for qr in cards.values())
    return TwoCityNetwork(coordinator, cities, verifier, cards)


def _assert_kept(verifier: Verifier, cards: dict[str, str], error: str) -> None:
    result = verifier.sync()
    assert result.exit_code == 1, result.output
    assert f"network {NETWORK}: FAILED, serial 1" in result.output
    assert error in result.output
    assert "keeping the last good copy (serial 1)" in result.output
    assert all(verifier.verify(qr) == "valid" for qr in cards.values())
    assert "last error:" in verifier.cli("networks", "list").output


def test_a_tampered_directory_leaves_the_last_good_copy(two_city_network: TwoCityNetwork) -> None:
    coordinator, _cities, verifier, cards = two_city_network
    tampered = bytearray(coordinator.published)
    tampered[-10] ^= 0x01  # inside the signature
    coordinator.override = bytes(tampered)
    _assert_kept(verifier, cards, "directory refused (bad_signature")


def test_a_rolled_back_directory_leaves_the_last_good_copy(
    two_city_network: TwoCityNetwork,
) -> None:
    coordinator, cities, verifier, cards = two_city_network
    old = coordinator.published  # serial 1, both members active
    coordinator.cli("members", "remove", cities[0].code, "--reason", "left")
    coordinator.publish()
    assert verifier.sync().exit_code == 0
    assert verifier.verify(cards[cities[0].code]) == "unknown_issuer"
    coordinator.override = old  # an attacker replays the directory that still listed it
    result = verifier.sync()
    assert result.exit_code == 1
    assert "directory refused (rollback: serial 1 is lower than 2" in result.output
    assert "keeping the last good copy (serial 2)" in result.output
    assert verifier.verify(cards[cities[0].code]) == "unknown_issuer"
    assert verifier.verify(cards[cities[1].code]) == "valid"


def test_a_directory_signed_by_another_key_leaves_the_last_good_copy(
    two_city_network: TwoCityNetwork, tmp_path: Path
) -> None:
    coordinator, cities, verifier, cards = two_city_network
    # An impostor founds a network of the same code, with its own root, and lists a city.
    impostor = Coordinator(instance=tmp_path / "impostor", out=tmp_path / "impostor-www")
    impostor.cli("init", "--code", NETWORK, "--name", "en=Impostor")
    _join(impostor, cities[0])
    impostor.publish("--validity-days", "60")
    coordinator.override = impostor.published
    _assert_kept(verifier, cards, "neither the pinned root nor endorsed by it")


def test_an_expired_directory_makes_its_members_status_unknown(
    make_city: Callable[[str, str], City],
    make_verifier: Callable[..., Verifier],
    make_coordinator: Callable[[str], Coordinator],
) -> None:
    coordinator = make_coordinator(NETWORK)
    member, pinned = make_city("FR SXB", "Strasbourg"), make_city("BR SAO", "São Paulo")
    _join(coordinator, member)
    coordinator.publish("--next-update-days", "1", "--validity-days", "2")
    verifier = make_verifier()
    _pin_network(verifier, coordinator)
    assert verifier.pin(pinned).exit_code == 0  # pinned directly: no network involved
    member_card, pinned_card = member.issue().qr, pinned.issue().qr
    assert verifier.verify(member_card) == "valid"

    verifier.clock.advance(days=1, hours=1)  # past next-update: late, still vouching
    result = verifier.sync()
    assert "the coordinator is late" in result.output
    assert verifier.verify(member_card) == "valid"

    verifier.clock.advance(days=1)  # past exp: the coordinator never re-signed
    result = verifier.sync()
    assert result.exit_code == 1
    assert "directory refused (expired" in result.output
    assert "the directory EXPIRED at" in result.output
    assert verifier.verify(member_card) == "status_unknown"
    assert verifier.verify(pinned_card) == "valid"
    assert "DIRECTORY EXPIRED (status_unknown)" in verifier.cli("partners", "list").output


def test_a_city_pinned_directly_and_through_a_network_is_one_partner(
    two_city_network: TwoCityNetwork,
) -> None:
    coordinator, cities, verifier, cards = two_city_network
    city = cities[0]
    assert verifier.pin(city).exit_code == 0, "a network-only partner is pinned directly"
    store = json.loads((Path(verifier.app.instance_path) / "trust.json").read_text())
    assert [p["code"] for p in store["partners"]].count(city.code) == 1
    assert (
        f"trusted:      directly; through network {NETWORK}"
        in verifier.cli("partners", "list").output
    )
    # Suspended by the network, but this verifier pinned it itself: its own pin decides.
    coordinator.cli("members", "suspend", city.code, "--reason", "dues")
    coordinator.publish()
    assert verifier.sync().exit_code == 0
    assert verifier.verify(cards[city.code]) == "valid"
    # Unpinned directly: still a partner, through the network, which suspended it.
    assert verifier.cli("partners", "remove", city.code).exit_code == 0
    assert verifier.verify(cards[city.code]) == "status_unknown"
    # Removing the network drops the cities only it vouched for.
    result = verifier.cli("networks", "remove", NETWORK)
    assert result.exit_code == 0, result.output
    assert verifier.verify(cards[cities[1].code]) == "unknown_issuer"


def test_pinning_a_network_with_a_wrong_fingerprint_stores_nothing(
    make_verifier: Callable[..., Verifier],
    make_coordinator: Callable[[str], Coordinator],
) -> None:
    coordinator = make_coordinator(NETWORK)
    coordinator.publish()
    verifier = make_verifier()
    result = verifier.cli(
        "networks", "add", "--directory-url", coordinator.directory_url, "--fingerprint", "AB" * 32
    )
    assert result.exit_code == 1
    assert "does not verify (bad_signature" in result.output
    assert "No network is pinned" in verifier.cli("networks", "list").output


def test_a_member_whose_metadata_does_not_match_the_listed_root_is_not_trusted(
    make_city: Callable[[str, str], City],
    make_verifier: Callable[..., Verifier],
    make_coordinator: Callable[[str], Coordinator],
) -> None:
    coordinator = make_coordinator(NETWORK)
    city, other = make_city("FR SXB", "Strasbourg"), make_city("BR SAO", "São Paulo")
    # The coordinator refuses a city whose metadata is not signed by the fingerprint given.
    result = coordinator.cli(
        "members",
        "add",
        "--metadata-url",
        city.metadata_url,
        "--fingerprint",
        other.fingerprint,
        ok=False,
    )
    assert result.exit_code == 1
    assert "does not verify against that fingerprint" in result.output
    assert "0 member(s)" in coordinator.cli("members", "list").output


def test_verifiers_follow_the_coordinators_root_rotation(two_city_network: TwoCityNetwork) -> None:
    coordinator, cities, verifier, cards = two_city_network
    pinned = coordinator.fingerprint
    rotated = coordinator.cli("rotate-root")
    assert coordinator.fingerprint != pinned
    coordinator.cli("members", "suspend", cities[1].code, "--reason", "audit")
    coordinator.publish()
    result = verifier.sync()  # pinned the old root; follows the endorsement to the new one
    assert result.exit_code == 0, result.output
    assert f"network {NETWORK}: ok, serial 2, 1 active, 1 suspended" in result.output
    assert verifier.verify(cards[cities[0].code]) == "valid"
    assert verifier.verify(cards[cities[1].code]) == "status_unknown"
    assert pinned in verifier.cli("networks", "list").output  # the pin stays what was exchanged
    assert coordinator.fingerprint in rotated.output
