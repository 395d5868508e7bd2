"""Every result code of POST /api/v1/verify, reached end to end through a pinned, synced city."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cardformat import KeyState, Status
from cardformat.base45 import b45decode, b45encode

from .helpers import FakeIssuer, pin, verify

ANSWER_KEYS = {"result", "valid", "issuer", "card", "holder", "status_checked_at", "message"}


def _sync(runner: Any) -> None:
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output


def test_valid_card_answers_exactly_the_contract(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, card = city.card(now=clock())
    body = verify(client, text)
    assert set(body) == ANSWER_KEYS
    assert body["result"] == "valid"
    assert body["valid"] is True
    assert body["issuer"] == {"code": "FR SXB", "name": "Strasbourg", "networks": []}
    assert body["card"]["number"] == card.number
    assert body["card"]["expires"] == (clock() + timedelta(days=3 * 365)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert body["holder"] == {"name": "Amina Haddad", "birth_date": "1990-04-02"}
    assert body["status_checked_at"] == clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["message"] == "Genuine card, valid."


def test_birth_date_is_optional(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock(), birth_date=None)
    body = verify(client, text)
    assert body["result"] == "valid"
    assert body["holder"]["birth_date"] is None


def test_the_issuer_is_never_contacted_while_verifying(
    client: Any, city: FakeIssuer, clock: Any
) -> None:
    text, _ = city.card(now=clock())
    before = list(city.requests)
    for _ in range(3):
        assert verify(client, text)["result"] == "valid"
    city.set_status(city.next_index - 7, Status.REVOKED)
    assert city.requests == before


@pytest.mark.parametrize(
    ("status", "result"), [(Status.REVOKED, "revoked"), (Status.SUSPENDED, "suspended")]
)
def test_revoked_and_suspended_after_sync(
    client: Any, runner: Any, city: FakeIssuer, clock: Any, status: Status, result: str
) -> None:
    text, card = city.card(now=clock())
    assert verify(client, text)["result"] == "valid"
    city.set_status(card.status_index, status)
    clock.advance(minutes=10)
    city.publish(clock())
    assert verify(client, text)["result"] == "valid"  # not synced yet: the last list stands
    _sync(runner)
    body = verify(client, text)
    assert body["result"] == result
    assert body["valid"] is False
    # The signature verified, so what the card says is shown (the agent needs the name).
    assert body["holder"]["name"] == "Amina Haddad"
    assert body["card"]["number"] == card.number
    assert body["status_checked_at"] == clock().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_expired(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock() - timedelta(days=400), expires_at=clock() - timedelta(days=1))
    body = verify(client, text)
    assert body["result"] == "expired"
    assert body["valid"] is False
    assert body["issuer"] is None and body["card"] is None and body["holder"] is None


def test_not_yet_valid(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock() + timedelta(hours=2))
    assert verify(client, text)["result"] == "not_yet_valid"


def test_key_revoked_after_sync(client: Any, runner: Any, city: FakeIssuer, clock: Any) -> None:
    from cardformat import generate_key

    from .helpers import SigningKey

    text, _ = city.card(now=clock())
    old = city.active
    city.keys.append(SigningKey(generate_key()))
    old.state = KeyState.REVOKED
    clock.advance(minutes=1)
    city.publish(clock())
    _sync(runner)
    assert verify(client, text)["result"] == "key_revoked"
    fresh, _ = city.card(now=clock())
    assert verify(client, fresh)["result"] == "valid"


def test_retired_key_still_verifies_its_cards(
    client: Any, runner: Any, city: FakeIssuer, clock: Any
) -> None:
    from cardformat import generate_key

    from .helpers import SigningKey

    text, _ = city.card(now=clock())
    old = city.active
    city.keys.append(SigningKey(generate_key()))
    clock.advance(minutes=1)
    old.state, old.retired_at = KeyState.RETIRED, clock()
    city.publish(clock())
    _sync(runner)
    assert verify(client, text)["result"] == "valid"
    # A card signed by the retired key after its retirement is refused.
    late, _ = city.card(now=clock() + timedelta(minutes=1), key=old)
    clock.advance(minutes=2)
    assert verify(client, late)["result"] == "key_revoked"


def test_unknown_issuer(client: Any, city: FakeIssuer, serve_issuer: Any, clock: Any) -> None:
    stranger = serve_issuer("PT LIS", {"pt": "Lisboa"})
    text, _ = stranger.card(now=clock())
    body = verify(client, text)
    assert body["result"] == "unknown_issuer"
    assert body["issuer"] is None


def test_bad_signature_on_a_tampered_token(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    raw = bytearray(b45decode(text[4:]))
    raw[-5] ^= 0x01  # inside the signature
    assert verify(client, "MC1:" + b45encode(bytes(raw)))["result"] == "bad_signature"


def test_bad_signature_when_a_partner_signs_for_another_city(
    client: Any, runner: Any, city: FakeIssuer, serve_issuer: Any, clock: Any
) -> None:
    other = serve_issuer("PT LIS", {"pt": "Lisboa"})
    added = pin(runner, other)
    assert added.exit_code == 0, added.output
    forged, _ = other.card(now=clock(), issuer="FR SXB")
    assert verify(client, forged)["result"] == "bad_signature"


@pytest.mark.parametrize(
    "text", ["", "hello", "MC1:", "MC1:!!!", "MC2:ABC", "x" * 5000, "MC1:\x00"]
)
def test_malformed(client: Any, city: FakeIssuer, text: str) -> None:
    body = verify(client, text)
    assert body["result"] == "malformed"
    assert set(body) == ANSWER_KEYS
    assert body["issuer"] is body["card"] is body["holder"] is body["status_checked_at"] is None


def test_status_unknown_when_the_list_is_too_old(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    listed_at = clock()
    clock.advance(days=7, seconds=1)
    body = verify(client, text)
    assert body["result"] == "status_unknown"
    assert body["valid"] is False
    assert body["status_checked_at"] == listed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["holder"]["name"] == "Amina Haddad"


def test_status_unknown_age_follows_the_configured_policy(
    app_factory: Any, city: FakeIssuer, clock: Any
) -> None:
    client = app_factory(MAX_STATUS_AGE=3600).test_client()
    text, _ = city.card(now=clock())
    assert verify(client, text)["result"] == "valid"
    clock.advance(hours=1, seconds=1)
    assert verify(client, text)["result"] == "status_unknown"


def test_status_unknown_when_the_list_expired(
    serve_issuer: Any, runner: Any, client: Any, clock: Any
) -> None:
    issuer = serve_issuer(
        "DE BER", {"de": "Berlin", "en": "Berlin"}, list_lifetime=timedelta(hours=1)
    )
    issuer.publish(clock())
    added = pin(runner, issuer)
    assert added.exit_code == 0, added.output
    text, _ = issuer.card(now=clock())
    assert verify(client, text)["result"] == "valid"
    clock.advance(hours=1)
    assert verify(client, text)["result"] == "status_unknown"


def test_status_unknown_when_the_list_is_not_published(
    client: Any, runner: Any, city: FakeIssuer, clock: Any
) -> None:
    from cardformat import MIN_STATUS_LIST_SIZE

    text, _ = city.card(now=clock(), index=MIN_STATUS_LIST_SIZE + 5)  # list 1 does not exist
    body = verify(client, text)
    assert body["result"] == "status_unknown"
    assert body["status_checked_at"] is None


def test_status_unknown_when_a_published_list_was_never_fetched(
    client: Any, runner: Any, city: FakeIssuer, clock: Any
) -> None:
    from cardformat import MIN_STATUS_LIST_SIZE, StatusList

    city.lists[1] = StatusList(MIN_STATUS_LIST_SIZE, 2)
    clock.advance(minutes=1)
    city.publish(clock())
    del city.docs["/.well-known/citycard/status/1"]  # announced, but its server fails
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    text, _ = city.card(now=clock(), index=MIN_STATUS_LIST_SIZE + 5)
    assert verify(client, text)["result"] == "status_unknown"
    other, _ = city.card(now=clock(), index=5)
    assert verify(client, other)["result"] == "valid"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr-FR,fr;q=0.9", "Carte authentique, valide."),
        ("es", None),
        ("pt-BR", None),
        ("ar", None),
        ("de", "Genuine card, valid."),
    ],
)
def test_message_follows_accept_language(
    client: Any, city: FakeIssuer, clock: Any, language: str, expected: str | None
) -> None:
    text, _ = city.card(now=clock())
    english = verify(client, text)["message"]
    body = verify(client, text, **{"Accept-Language": language})
    if expected is not None:
        assert body["message"] == expected
    else:
        assert body["message"] != english and body["message"]


def test_issuer_name_follows_the_language(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    body = verify(client, text, **{"Accept-Language": "ar"})
    assert body["issuer"]["name"] == "ستراسبورغ"
    body = client.post("/api/v1/verify?lang=ar", json={"qr": text}).get_json()
    assert body["issuer"]["name"] == "ستراسبورغ"
