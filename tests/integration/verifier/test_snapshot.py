"""GET /api/v1/trust-snapshot: what the agent page caches to verify offline."""

from __future__ import annotations

import base64
import zlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cardformat import MIN_STATUS_LIST_SIZE, KeyState, Status, public_key_bytes
from cardformat.base45 import b45decode

from .helpers import FakeIssuer


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_empty_store(client: Any) -> None:
    body = client.get("/api/v1/trust-snapshot").get_json()
    assert body["issuers"] == []
    assert body["max_status_age_seconds"] == 7 * 86400
    assert body["generated_at"] == "2026-06-01T12:00:00Z"


def test_snapshot_carries_keys_and_lists_that_verify_a_card(
    client: Any, city: FakeIssuer, clock: Any
) -> None:
    text, card = city.card(now=clock())
    city.set_status(card.status_index, Status.SUSPENDED)
    clock.advance(minutes=1)
    city.publish(clock())
    runner_result = client.application.test_cli_runner().invoke(args=["sync"])
    assert runner_result.exit_code == 0

    body = client.get("/api/v1/trust-snapshot").get_json()
    (issuer,) = body["issuers"]
    assert issuer["code"] == "FR SXB"
    assert issuer["name"] == {"fr": "Strasbourg", "en": "Strasbourg", "ar": "ستراسبورغ"}
    assert issuer["status_list_size"] == MIN_STATUS_LIST_SIZE
    (key,) = issuer["keys"]
    assert _unb64url(key["kid"]) == city.active.kid
    raw = _unb64url(key["public_key"])
    assert raw == public_key_bytes(city.active.key)
    assert key["state"] == "active" and key["retired_at"] is None

    # The published key verifies the card's COSE signature, as WebCrypto will in the page.
    import cbor2

    tag = cbor2.loads(b45decode(text[4:]))
    protected, _unprotected, payload, signature = tag.value
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, to_sign)

    (listed,) = issuer["status_lists"]
    assert listed["id"] == 0 and listed["bits"] == 2
    assert listed["issued_at"] == "2026-06-01T12:01:00Z"
    assert listed["fetched_at"] == "2026-06-01T12:01:00Z"
    assert listed["expires_at"] is None
    data = zlib.decompress(_unb64url(listed["lst"]))
    position = card.status_index * 2
    assert (data[position // 8] >> (position % 8)) & 3 == Status.SUSPENDED


def test_revoked_and_retired_keys_are_listed_with_their_state(
    client: Any, city: FakeIssuer, clock: Any
) -> None:
    from cardformat import generate_key

    from .helpers import SigningKey

    old = city.active
    city.keys.append(SigningKey(generate_key()))
    old.state, old.retired_at = KeyState.RETIRED, clock()
    third = SigningKey(generate_key(), state=KeyState.REVOKED)
    city.keys.append(third)
    clock.advance(minutes=1)
    city.publish(clock())
    assert client.application.test_cli_runner().invoke(args=["sync"]).exit_code == 0
    keys = client.get("/api/v1/trust-snapshot").get_json()["issuers"][0]["keys"]
    states = {_unb64url(k["kid"]): (k["state"], k["retired_at"]) for k in keys}
    assert states[old.kid] == ("retired", "2026-06-01T12:00:00Z")
    assert states[third.kid] == ("revoked", None)


def test_etag_revalidation_and_change(client: Any, city: FakeIssuer, clock: Any) -> None:
    first = client.get("/api/v1/trust-snapshot")
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = client.get("/api/v1/trust-snapshot", headers={"If-None-Match": etag})
    assert again.status_code == 304
    clock.advance(minutes=1)
    city.publish(clock())
    assert client.application.test_cli_runner().invoke(args=["sync"]).exit_code == 0
    changed = client.get("/api/v1/trust-snapshot", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
