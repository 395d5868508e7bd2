"""The committed card-format vectors: each one gives exactly its expected result."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import pytest

import cardformat as cf

from .conftest import VECTORS, load_vectors

DOCUMENT = load_vectors("cards.json")
KEYS = {
    bytes.fromhex(k["kid"]): cf.TrustedKey(
        kid=bytes.fromhex(k["kid"]),
        public_key=cf.load_public_key(bytes.fromhex(k["public_key"])),
        issuer=k["issuer"],
        state=cf.KeyState(k["state"]),
        retired_at=datetime.fromisoformat(k["retired_at"]) if k["retired_at"] else None,
        not_before=datetime.fromisoformat(k["not_before"]),
        not_after=datetime.fromisoformat(k["not_after"]) if k["not_after"] else None,
    )
    for k in DOCUMENT["keys"]
}


@pytest.mark.parametrize("vector", DOCUMENT["vectors"], ids=lambda v: v["name"])
def test_vector(vector: dict) -> None:  # type: ignore[type-arg]
    now = datetime.fromisoformat(vector["now"])
    if vector["expected"] != "valid":
        with pytest.raises(cf.CardFormatError) as raised:
            cf.verify_card(vector["text"], resolve_key=KEYS.get, now=now)
        assert type(raised.value).__name__ == vector["error"]
        assert raised.value.code == vector["expected"]
        return
    verified = cf.verify_card(vector["text"], resolve_key=KEYS.get, now=now)
    claims = vector["claims"]
    birth = claims["birth_date"] and date.fromisoformat(claims["birth_date"])
    assert verified.card == cf.Card(
        number=claims["number"],
        holder_name=claims["holder_name"],
        birth_date=birth,
        status_index=claims["status_index"],
    )
    assert verified.issuer == claims["issuer"]
    assert verified.issued_at == datetime.fromisoformat(claims["issued_at"])
    assert verified.expires_at == datetime.fromisoformat(claims["expires_at"])


def test_vectors_cover_every_result_code_a_token_can_raise() -> None:
    codes = {v["expected"] for v in DOCUMENT["vectors"]}
    assert codes == {
        "valid",
        "malformed",
        "unknown_issuer",
        "bad_signature",
        "key_revoked",
        "expired",
        "not_yet_valid",
    }


def test_committed_vectors_match_their_generator() -> None:
    result = subprocess.run(
        [sys.executable, str(VECTORS / "generate_cards.py"), "--check"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, "tests/vectors/cards.json is stale: run `make vectors`"
