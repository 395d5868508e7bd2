"""Issue 5, "Tests that show it works": two cities on loopback, each an issuance app with its own
database and keys, and city B's verifier, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cardformat import generate_key, public_key_bytes, sign_metadata, verify_metadata

from .conftest import METADATA_PATH, City, MetadataProxy, Verifier


def _pin(verifier: Verifier, *cities: City) -> None:
    for city in cities:
        result = verifier.pin(city)
        assert result.exit_code == 0, result.output
        assert f"Pinned {city.code}" in result.output


def _sync_ok(verifier: Verifier) -> str:
    result = verifier.sync()
    assert result.exit_code == 0, result.output
    output: str = result.output
    return output


def test_a_card_is_valid_at_b_after_sync_then_revoked_after_the_next_sync(
    city_a: City, city_b: City, verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a, city_b)
    card = city_a.issue("Amina Diallo")
    output = _sync_ok(verifier_b)
    assert "FR SXB: ok" in output and "BR SAO: ok" in output

    answer = verifier_b.verify_full(card.qr)
    assert answer["result"] == "valid" and answer["valid"] is True
    assert answer["issuer"] == {"code": "FR SXB", "name": "Strasbourg", "networks": []}
    assert answer["holder"]["name"] == "Amina Diallo"
    assert answer["card"]["number"] == card.number

    city_a.revoke(card.number)
    # Offline by design: until B syncs, B answers from the last list it verified.
    assert verifier_b.verify(card.qr) == "valid"
    _sync_ok(verifier_b)
    assert verifier_b.verify(card.qr) == "revoked"
    # B's own cards are untouched by A's revocation.
    assert verifier_b.verify(city_b.issue("Bruno Costa").qr) == "valid"


def test_signing_key_rotation_keeps_old_and_new_cards_valid(
    city_a: City, verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a)
    old = city_a.issue("Old Key Holder")
    assert "New active signing key" in city_a.cli("keys", "rotate").output
    new = city_a.issue("New Key Holder")
    assert old.kid != new.kid
    _sync_ok(verifier_b)
    assert verifier_b.verify(old.qr) == "valid"
    assert verifier_b.verify(new.qr) == "valid"
    listing = verifier_b.cli("partners", "list").output
    assert f"key {old.kid}: retired" in listing
    assert f"key {new.kid}: active" in listing


def test_a_revoked_key_fails_its_cards_at_b_and_the_command_lists_them(
    city_a: City, verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a)
    exposed = city_a.issue("Exposed Card")
    already_revoked = city_a.issue("Already Revoked")
    city_a.revoke(already_revoked.number)
    _sync_ok(verifier_b)
    assert verifier_b.verify(exposed.qr) == "valid"

    result = city_a.cli("keys", "revoke", exposed.kid, "--yes")
    assert f"Key {exposed.kid} revoked; 1 card(s) need a reprint." in result.output
    assert exposed.number in result.output
    # A card that is revoked anyway needs no reissue.
    assert already_revoked.number not in result.output

    _sync_ok(verifier_b)
    assert verifier_b.verify(exposed.qr) == "key_revoked"
    # Reissue: the reprint carries the replacement key created in the same transaction, and
    # keeps the card's number and status entry.
    reprinted = city_a.reprint(exposed.number)
    _sync_ok(verifier_b)
    answer = verifier_b.verify_full(reprinted)
    assert answer["result"] == "valid" and answer["card"]["number"] == exposed.number
    assert verifier_b.verify(exposed.qr) == "key_revoked"  # the old print stays dead
    assert verifier_b.verify(city_a.issue("New Holder").qr) == "valid"


def _tampered(city: City, proxy: MetadataProxy) -> bytes:
    genuine = city.get(METADATA_PATH)
    doctored = genuine.replace(b"Strasbourg", b"Strasbourk")
    assert doctored != genuine
    return doctored


def _rolled_back(city: City, proxy: MetadataProxy) -> bytes:
    # The oldest genuine document that went through the proxy (seen when B pinned A); A's key
    # rotation then made a newer serial, which B has accepted.
    return proxy.seen[0]


def _wrong_root(city: City, proxy: MetadataProxy) -> bytes:
    genuine = verify_metadata(
        city.get(METADATA_PATH), pinned_fingerprint=city.fingerprint, now=datetime.now(UTC)
    )
    impostor = generate_key()
    forged = dataclasses.replace(
        genuine, root_key=public_key_bytes(impostor), serial=genuine.serial + 10
    )
    return sign_metadata(forged, root_key=impostor)


@pytest.mark.parametrize(
    ("doctor", "reason"),
    [
        (_tampered, "bad_signature"),
        (_rolled_back, "rollback"),
        (_wrong_root, "neither the pinned root nor endorsed by it"),
    ],
    ids=["tampered", "rolled-back", "wrong-root"],
)
def test_bad_metadata_leaves_b_on_its_last_good_copy_with_a_clear_report(
    city_a: City,
    city_b: City,
    verifier_b: Verifier,
    proxy_for: Callable[[City], MetadataProxy],
    doctor: Callable[[City, MetadataProxy], bytes],
    reason: str,
) -> None:
    proxy = proxy_for(city_a)
    result = verifier_b.pin(city_a, url=proxy.metadata_url)
    assert result.exit_code == 0, result.output
    _pin(verifier_b, city_b)
    card = city_a.issue("Card Before The Attack")
    city_a.cli("keys", "rotate")  # a newer serial for B to hold
    _sync_ok(verifier_b)
    good_serial = _serial(verifier_b, "FR SXB")
    assert good_serial > 1 and len(proxy.seen) >= 2

    proxy.override = doctor(city_a, proxy)
    result = verifier_b.sync()
    assert result.exit_code == 1
    assert "FR SXB: FAILED" in result.output
    assert "metadata refused, keeping the last good copy" in result.output
    assert reason in result.output
    assert "BR SAO: ok" in result.output  # each partner reported on its own
    assert "1 of 2 partners failed." in result.output

    # The last good copy is still what B trusts: same serial, same name, cards still verify.
    assert _serial(verifier_b, "FR SXB") == good_serial
    answer = verifier_b.verify_full(card.qr)
    assert answer["result"] == "valid"
    assert answer["issuer"]["name"] == "Strasbourg"
    listing = verifier_b.cli("partners", "list").output
    assert "last error:" in listing and reason in listing

    # Once the real document is served again, B recovers on its own.
    proxy.override = None
    _sync_ok(verifier_b)
    assert "last error:" not in verifier_b.cli("partners", "list").output


def _serial(verifier: Verifier, code: str) -> int:
    listing = verifier.cli("partners", "list").output
    section = listing[listing.index(code) :]
    match = re.search(r"serial:\s+(\d+)", section)
    assert match, listing
    return int(match.group(1))


def test_a_card_from_an_unknown_city_is_unknown_issuer(
    city_a: City, make_city: Callable[[str, str], City], verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a)
    lisbon = make_city("PT LIS", "Lisboa")
    answer = verifier_b.verify_full(lisbon.issue("Unpinned Holder").qr)
    assert answer["result"] == "unknown_issuer"
    assert answer["valid"] is False and answer["holder"] is None
    assert lisbon.access_log == []


def test_verifying_cards_sends_the_issuer_no_request_at_all(
    city_a: City, city_b: City, verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a, city_b)
    valid = city_a.issue("Valid Holder")
    revoked = city_a.issue("Revoked Holder")
    city_a.revoke(revoked.number)
    _sync_ok(verifier_b)
    assert any(path == METADATA_PATH for _, path in city_a.access_log)  # sync did fetch

    city_a.access_log.clear()
    city_b.access_log.clear()
    for _ in range(20):
        assert verifier_b.verify(valid.qr) == "valid"
        assert verifier_b.verify(revoked.qr) == "revoked"
        assert verifier_b.verify(valid.qr[:-3] + "AAA") in {"bad_signature", "malformed"}
    verifier_b.clock.advance(days=30)  # even a stale list triggers no fetch
    assert verifier_b.verify(valid.qr) == "status_unknown"
    assert city_a.access_log == []
    assert city_b.access_log == []


def test_partners_add_refuses_a_fingerprint_mismatch_and_shows_both_values(
    city_a: City, city_b: City, verifier_b: Verifier
) -> None:
    result = verifier_b.pin(city_a, fingerprint=city_b.fingerprint)
    assert result.exit_code != 0
    assert "fingerprint mismatch" in result.output
    assert city_b.fingerprint in result.output  # what the operator typed
    assert city_a.fingerprint in result.output  # what the server presented
    assert "No partner is pinned" in verifier_b.cli("partners", "list").output


def test_partners_list_shows_code_name_keys_last_sync_and_staleness(
    city_a: City, city_b: City, verifier_b: Verifier
) -> None:
    _pin(verifier_b, city_a, city_b)
    card = city_a.issue()
    _sync_ok(verifier_b)
    listing = verifier_b.cli("partners", "list").output
    for city in (city_a, city_b):
        assert city.code in listing
        assert city.fingerprint in listing
    assert "en: Strasbourg" in listing and "en: São Paulo" in listing
    assert f"key {card.kid}: active" in listing
    today = verifier_b.clock().strftime("%Y-%m-%d")
    assert re.search(rf"last success: {today} \d\d:\d\d:\d\dZ", listing)
    assert "STALE" not in listing

    verifier_b.clock.advance(days=8)
    listing = verifier_b.cli("partners", "list").output
    assert "STALE: past its ttl" in listing
    assert "STALE (status_unknown for its cards)" in listing


@pytest.mark.parametrize(
    ("config", "advance", "result"),
    [
        ({}, {"days": 6}, "valid"),  # default maximum age: 7 days
        ({}, {"days": 8}, "status_unknown"),
        ({"MAX_STATUS_AGE": 3600}, {"minutes": 50}, "valid"),
        ({"MAX_STATUS_AGE": 3600}, {"hours": 2}, "status_unknown"),
    ],
)
def test_a_status_list_older_than_the_maximum_age_gives_status_unknown(
    city_a: City,
    make_verifier: Callable[..., Verifier],
    config: dict[str, Any],
    advance: dict[str, float],
    result: str,
) -> None:
    verifier = make_verifier(**config)
    _pin(verifier, city_a)
    card = city_a.issue()
    _sync_ok(verifier)
    verifier.clock.advance(**advance)
    answer = verifier.verify_full(card.qr)
    assert answer["result"] == result
    # The agent still sees when the issuer last vouched for the status.
    assert answer["status_checked_at"] is not None


def test_an_expired_metadata_ttl_is_reported(city_a: City, verifier_b: Verifier) -> None:
    _pin(verifier_b, city_a)
    card = city_a.issue()
    # A's published metadata lives one day (policy metadata_ttl); B's clock is two days ahead,
    # as if A had stopped re-signing.
    verifier_b.clock.advance(days=2)
    result = verifier_b.sync()
    assert result.exit_code == 0, result.output
    assert "warning: metadata is past its ttl" in result.output
    assert "STALE: past its ttl" in verifier_b.cli("partners", "list").output
    # The status lists are still fresh, so cards still verify; the ttl is a warning.
    assert verifier_b.verify(card.qr) == "valid"


def test_root_rotation_is_followed_without_a_new_fingerprint(
    city_a: City, verifier_b: Verifier, make_verifier: Callable[..., Verifier]
) -> None:
    _pin(verifier_b, city_a)
    first_root = city_a.fingerprint
    old_card = city_a.issue("Before Rotation")

    for _ in range(2):  # a chain of two endorsements
        result = city_a.cli("keys", "rotate-root", "--yes")
        assert "New root key fingerprint:" in result.output
        city_a.cli("keys", "rotate")
    current_root = city_a.cli("keys", "fingerprint").output.strip()
    assert current_root != first_root and current_root in result.output

    meta = verify_metadata(
        city_a.get(METADATA_PATH),
        pinned_fingerprint=first_root,
        now=verifier_b.clock(),
    )
    assert len(meta.endorsements) == 2

    new_card = city_a.issue("After Rotation")
    output = _sync_ok(verifier_b)
    assert "FR SXB: ok" in output
    assert verifier_b.verify(old_card.qr) == "valid"
    assert verifier_b.verify(new_card.qr) == "valid"
    # B still pins the first root: nothing was exchanged again.
    assert first_root in verifier_b.cli("partners", "list").output

    # A city pinning only now may use either fingerprint.
    for fingerprint in (first_root, current_root):
        late = make_verifier()
        result = late.pin(city_a, fingerprint)
        assert result.exit_code == 0, result.output
        assert late.verify(new_card.qr) == "valid"

    # A root that was never endorsed is still refused after the rotation.
    stranger = make_verifier()
    bogus = " ".join(["ABCD"] * 16)
    assert stranger.pin(city_a, bogus).exit_code != 0


def test_publication_is_cacheable_and_a_revocation_is_published_at_once(
    city_a: City, verifier_b: Verifier
) -> None:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    card = city_a.issue()
    status_path = "/.well-known/citycard/status/0"
    for path in (METADATA_PATH, status_path):
        with urlopen(city_a.base_url + path, timeout=10) as response:
            etag = response.headers["ETag"]
            cache = response.headers["Cache-Control"]
            assert etag and cache.startswith("public, max-age=")
            # A cache in front may not hide a revocation for more than a minute.
            assert 0 < int(cache.rsplit("=", 1)[1]) <= 60
        request = Request(city_a.base_url + path, headers={"If-None-Match": etag})
        with pytest.raises(HTTPError) as not_modified:
            urlopen(request, timeout=10)
        assert not_modified.value.code == 304
        not_modified.value.close()

    with urlopen(city_a.base_url + status_path, timeout=10) as response:
        before = response.headers["ETag"]
    city_a.revoke(card.number)
    # The very next fetch gets a list re-signed with the revocation: no waiting for a batch.
    with urlopen(city_a.base_url + status_path, timeout=10) as response:
        assert response.headers["ETag"] != before
    _pin(verifier_b, city_a)
    assert verifier_b.verify(card.qr) == "revoked"


def test_a_new_status_list_when_one_fills_up(city_a: City, verifier_b: Verifier) -> None:
    from sqlalchemy import select

    from cardservice.extensions import db
    from cardservice.models import Card, StatusListRecord

    _pin(verifier_b, city_a)
    first = city_a.issue("First List")
    with city_a.app.app_context():
        record = db.session.get(StatusListRecord, 0)
        assert record is not None
        # Stand-in for 65,536 issued cards: the list stops taking cards once half full.
        record.allocated = record.size // 2
        size = record.size
        db.session.commit()
    second = city_a.issue("Second List")
    with city_a.app.app_context():
        index = db.session.scalar(select(Card.status_index).where(Card.number == second.number))
    assert index is not None and size <= index < 2 * size

    output = _sync_ok(verifier_b)
    assert "2/2 status lists updated" in output
    assert verifier_b.verify(first.qr) == "valid"
    assert verifier_b.verify(second.qr) == "valid"
    city_a.revoke(second.number)
    _sync_ok(verifier_b)
    assert verifier_b.verify(second.qr) == "revoked"
    assert verifier_b.verify(first.qr) == "valid"
