"""The conformance kit run as a partner runs it, against our three verifiers: cardformat (the
reference), the server API (POST /api/v1/verify) and the agent page's verify.js (under node).

Each run feeds every vector of the kinds the verifier implements to it through the kit's own
protocol (a process per vector, token on standard input, context file) and must find no
difference. docs/conformance.md describes the kit.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardformat import conformance
from tests.e2e.verifier.agent_support import live_server
from tests.fake_city import pinned_city_record, published_vector_key
from tests.vectors import generate_cards
from verifier import create_app
from verifier.trust import TrustStore

HERE = Path(__file__).resolve().parent
JOBS = 2


def _check(outcomes: list[conformance.Outcome], kinds: set[str]) -> None:
    assert {o.vector.kind for o in outcomes} == kinds
    assert all(o.agrees for o in outcomes), conformance.report(outcomes)


def test_cardformat_passes_every_vector() -> None:
    command = [sys.executable, "-m", "cardformat.conformance.reference"]
    _check(conformance.run(command, jobs=JOBS), set(conformance.KINDS))


def test_the_agent_page_passes_the_card_and_status_vectors() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/system-packages.sh installs it)")
    command = [node, str(HERE / "verify_js_adapter.mjs")]
    _check(conformance.run(command, kinds=["card", "status"], jobs=JOBS), {"card", "status"})


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _trust_store(instance: Path) -> None:
    """Every issuer of the card vectors pinned with exactly the vectors' keys, everything dated
    and fetched in 1970: never in the future of a vector's instant, so the server's clock,
    moved to each vector's instant, is never earlier than its last fetch (which would make it
    refuse to judge time: clock_in_doubt). Its status lists are then stale for the later
    vectors, which the adapter does not look at (a card that verified is "valid")."""
    document = conformance.load_vectors(conformance.DEFAULT_VECTORS, ["card"])
    keys = next(document).context["keys"]
    epoch = datetime.fromtimestamp(0, UTC)
    with TrustStore(instance).transaction() as records:
        for code in sorted({k["issuer"] for k in keys}):
            own = [k for k in keys if k["issuer"] == code]
            records[code] = pinned_city_record(
                code=code,
                names={"en": own[0]["issuer_name"]},
                keys=[published_vector_key(k) for k in own],
                base_url=f"https://{code.replace(' ', '').lower()}.example",
                status_list_signer=generate_cards.ACTIVE
                if code == generate_cards.ISSUER
                else generate_cards.OTHER_CITY,
                metadata_issued_at=epoch,
                at=epoch,
            )


def test_the_server_api_passes_the_card_vectors(tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text("2026-06-01T12:00:00Z", encoding="utf-8")
    instance = tmp_path / "instance"
    _trust_store(instance)

    def clock() -> datetime:
        return _time(clock_file.read_text(encoding="utf-8"))

    config: dict[str, Any] = {
        "ENV": "testing",
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "conformance",
        "RATELIMIT_ENABLED": False,
        "CLOCK": clock,
    }
    with live_server(create_app(config)) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("CITYCARD_API_URL", server.url)
        patch.setenv("CITYCARD_API_CLOCK", str(clock_file))
        command = [sys.executable, str(HERE / "api_adapter.py")]
        _check(conformance.run(command, kinds=["card"], jobs=1), {"card"})
