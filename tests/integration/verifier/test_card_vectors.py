"""The card-format vectors (tests/vectors/cards.json) give their expected result through the API.

The vectors list the issuers' public keys; this test pins them the way a partner would: it
wraps them in metadata signed by a root of its own, adds an all-valid status list signed by the
issuer's active key (the generator's seeded keys), writes the trust store, and posts every
vector's text to POST /api/v1/verify at the vector's time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardformat import MIN_STATUS_LIST_SIZE, public_key_bytes
from tests.fake_city import pinned_city_record, published_vector_key
from verifier import create_app
from verifier.trust import TrustStore

VECTORS_FILE = Path(__file__).resolve().parents[2] / "vectors" / "cards.json"
DOC = json.loads(VECTORS_FILE.read_text())


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _signing_keys() -> dict[str, Any]:
    """The private keys the generator used, by hex public key (to sign status lists)."""
    from tests.vectors import generate_cards

    found = {}
    for name in dir(generate_cards):
        value = getattr(generate_cards, name)
        if isinstance(value, Ed25519PrivateKey):
            found[public_key_bytes(value).hex()] = value
    return found


def _write_store(instance: Path, now: datetime) -> None:
    private = _signing_keys()
    by_issuer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    names: dict[str, str] = {}
    for key in DOC["keys"]:
        by_issuer[key["issuer"]].append(key)
        names[key["issuer"]] = key["issuer_name"]
    published_at = min(datetime(2025, 12, 1, tzinfo=UTC), now)  # never dated after `now`
    with TrustStore(instance).transaction() as records:
        for issuer, keys in by_issuer.items():
            # The active key valid the longest signs the list, so that it is valid at every
            # vector's instant (back to 1970 for the lower limits).
            active = min((k for k in keys if k["state"] == "active"), key=lambda k: k["not_before"])
            records[issuer] = pinned_city_record(
                code=issuer,
                names={"en": names[issuer]},
                keys=(published_vector_key(k) for k in keys),
                base_url=f"https://{issuer.replace(' ', '').lower()}.example/.well-known/citycard",
                status_list_signer=private[active["public_key"]],
                metadata_issued_at=published_at,
                at=now,
            )


@pytest.fixture(scope="module")
def clients(tmp_path_factory: Any) -> dict[str, Any]:
    out = {}
    for now_text in sorted({v["now"] for v in DOC["vectors"]}):
        now = _time(now_text)
        assert now is not None
        instance = tmp_path_factory.mktemp("vectors")
        _write_store(instance, now)
        app = create_app(
            {
                "ENV": "testing",
                "INSTANCE_PATH": str(instance),
                "CLOCK": lambda now=now: now,
                "RATELIMIT_ENABLED": False,
            }
        )
        out[now_text] = app.test_client()
    return out


@pytest.mark.parametrize("vector", DOC["vectors"], ids=[v["name"] for v in DOC["vectors"]])
def test_vector_through_the_api(clients: dict[str, Any], vector: dict[str, Any]) -> None:
    response = clients[vector["now"]].post("/api/v1/verify", json={"qr": vector["text"]})
    assert response.status_code == 200
    body = response.get_json()
    if vector["expected"] != "valid":
        assert body["result"] == vector["expected"], vector["name"]
        assert body["card"] is None and body["holder"] is None
    else:
        claims = vector["claims"]
        # The card verifies; its status is read from list 0, all valid, which holds the indices
        # below MIN_STATUS_LIST_SIZE (no list is published for the others).
        listed = claims["status_index"] < MIN_STATUS_LIST_SIZE
        assert body["result"] == ("valid" if listed else "status_unknown"), vector["name"]
        assert body["issuer"]["code"] == claims["issuer"]
        assert body["card"] == {"number": claims["number"], "expires": claims["expires_at"]}
        assert body["holder"] == {"name": claims["holder_name"], "birth_date": claims["birth_date"]}


def test_the_verifier_checks_signatures_with_libsodium(clients: dict[str, Any]) -> None:
    from verifier.ed25519 import SodiumPublicKey

    app = next(iter(clients.values())).application
    index = app.extensions["verifier"].trust.current()
    assert index.keys
    assert all(isinstance(key.public_key, SodiumPublicKey) for key in index.keys.values())
