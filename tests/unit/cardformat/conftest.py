from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import cardformat as cf

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def load_vectors(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


class Issuer:
    """A city's signing key plus a resolver that trusts it, for tests."""

    def __init__(self, code: str = "FR SXB", state: cf.KeyState = cf.KeyState.ACTIVE) -> None:
        self.code = code
        self.key = cf.generate_key()
        self.trusted = cf.TrustedKey(
            kid=cf.key_id(self.key), public_key=self.key.public_key(), issuer=code, state=state
        )

    def resolve(self, kid: bytes) -> cf.TrustedKey | None:
        return self.trusted if kid == self.trusted.kid else None


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()
