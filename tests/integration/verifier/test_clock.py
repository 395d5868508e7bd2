"""The API refuses to judge time with a clock earlier than its own trust store's last fetch
(issue 16): the verdict is clock_in_doubt, without the card's details, and only for the
results that rest on the clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardformat import Status

from .helpers import FakeIssuer, verify


def _sync(runner: Any) -> None:
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output


def test_a_clock_set_back_before_the_last_fetch(
    client: Any, runner: Any, city: FakeIssuer, clock: Any
) -> None:
    # A card that expired a day ago, as seen at the last sync (now).
    expired, _ = city.card(
        now=clock() - timedelta(days=400), expires_at=clock() - timedelta(days=1)
    )
    valid, _ = city.card(now=clock() - timedelta(days=30))
    revoked, card = city.card(now=clock() - timedelta(days=30))
    city.set_status(card.status_index, Status.REVOKED)
    city.publish(clock())
    _sync(runner)
    assert verify(client, expired)["result"] == "expired"

    # The server's clock is then set back three days: by it, the expired card is in force.
    clock.advance(days=-3)
    body = verify(client, expired)
    assert body["result"] == "clock_in_doubt"
    assert body["valid"] is False
    assert body["holder"] is None and body["card"] is None and body["issuer"] is None
    assert "clock" in body["message"]
    assert verify(client, valid)["result"] == "clock_in_doubt"
    # What does not rest on the clock is still said.
    assert verify(client, revoked)["result"] == "revoked"
    assert verify(client, "MC1:not a card")["result"] == "malformed"
    # Translated like every message.
    french = verify(client, valid, **{"Accept-Language": "fr"})["message"]
    assert "horloge" in french


def test_the_usual_skew_is_allowed(client: Any, runner: Any, city: FakeIssuer, clock: Any) -> None:
    valid, _ = city.card(now=clock() - timedelta(days=30))
    _sync(runner)
    clock.advance(minutes=-4)
    assert verify(client, valid)["result"] == "valid"
    clock.advance(minutes=-2)
    assert verify(client, valid)["result"] == "clock_in_doubt"


def test_the_snapshot_carries_the_last_fetch(
    client: Any, runner: Any, city: FakeIssuer, clock: Any
) -> None:
    _sync(runner)
    snapshot = client.get("/api/v1/trust-snapshot").get_json()
    assert snapshot["trust_fetched_at"] == clock().strftime("%Y-%m-%dT%H:%M:%SZ")
