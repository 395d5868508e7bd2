"""The agent page, offline, recognises a card of a city this verifier trusts only through a
network (issue 15): the cached trust snapshot carries the network, the page names it, and a
member the network suspended is never genuine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cardformat import generate_key, public_key_bytes
from tests.fake_city import network_record, signed_directory
from verifier.trust import TrustStore

from .agent_support import FakeIssuer, LiveServer
from .test_agent_page import open_offline, scan_with_wedge, verdict_of
from .test_agent_parity import Clock, parity  # noqa: F401 (the parity fixture)

pytestmark = pytest.mark.e2e

NETWORK = "MIGRATION-ROUTES"


def _through_network(instance: Path, issuer: FakeIssuer, now: datetime, *, suspended: bool) -> None:
    """The store a sync leaves after pinning only the network: the city is a partner through
    it (``direct`` False), the network's directory lists it."""
    root = generate_key()
    member = (
        issuer.code,
        issuer.names,
        f"{issuer.base_url}/.well-known/citycard/issuer",
        public_key_bytes(issuer.root),
    )
    directory = signed_directory(
        network=NETWORK,
        root=root,
        members=[member],
        now=now,
        suspended=[issuer.code] if suspended else [],
    )
    with TrustStore(instance).transaction_all() as document:
        document.partners[issuer.code] = replace(document.partners[issuer.code], direct=False)
        document.networks[NETWORK] = network_record(
            network=NETWORK, root=root, directory=directory, url="https://net.example/", at=now
        )


def test_offline_page_recognises_a_member_card_through_the_network(
    page: Any, make_app: Any, issuer: FakeIssuer, now: datetime, tmp_path: Path
) -> None:
    card = issuer.card(now=now)
    app = make_app()
    _through_network(tmp_path / "instance", issuer, now, suspended=False)
    assert app.test_client().post("/api/v1/verify", json={"qr": card}).get_json()["result"] == (
        "valid"
    )
    server = LiveServer(app)
    try:
        open_offline(page, server)
        scan_with_wedge(page, card)
        assert verdict_of(page) == "valid"
        assert page.locator("#verdict-offline").is_visible()
        assert page.locator("#d-network").inner_text() == "Migration-Routes network"
        assert page.locator("#d-network-row").is_visible()
    finally:
        server.stop()


def test_offline_page_never_shows_a_suspended_member_genuine(
    page: Any, make_app: Any, issuer: FakeIssuer, now: datetime, tmp_path: Path
) -> None:
    card = issuer.card(now=now)
    app = make_app()
    _through_network(tmp_path / "instance", issuer, now, suspended=True)
    server = LiveServer(app)
    try:
        open_offline(page, server)
        scan_with_wedge(page, card)
        assert verdict_of(page) == "unknown"
        assert page.locator("#verdict").get_attribute("data-result") == "status_unknown"
        assert page.locator("#d-network-row").is_hidden()
    finally:
        server.stop()


def test_server_and_page_agree_on_network_verdicts(tmp_path: Path, parity: Any) -> None:  # noqa: F811
    """Active, suspended, expired and direct-and-network cities: the same verdicts and the same
    vouching networks from the server and from the page's own verifier."""
    now = datetime.now(UTC).replace(microsecond=0)
    instance = tmp_path / "net"
    active, held, both = FakeIssuer(), FakeIssuer(code="BR SAO"), FakeIssuer(code="TN TUN")
    for city in (active, held, both):
        city.install(instance, now=now - timedelta(hours=1))
    root = generate_key()
    members = [
        (c.code, c.names, f"{c.base_url}/x", public_key_bytes(c.root)) for c in (active, held, both)
    ]
    directory = signed_directory(
        network=NETWORK,
        root=root,
        members=members,
        now=now - timedelta(hours=1),
        suspended=[held.code, both.code],
        validity=timedelta(days=2),
    )
    with TrustStore(instance).transaction_all() as document:
        for city in (active, held):  # TN TUN stays pinned directly as well
            document.partners[city.code] = replace(document.partners[city.code], direct=False)
        document.networks[NETWORK] = network_record(
            network=NETWORK, root=root, directory=directory, url="https://net.example/", at=now
        )
    earlier = now - timedelta(days=1)
    later = now + timedelta(days=3)  # past the directory's expiry, lists still fresh
    cases = [
        {"name": "active", "text": active.card(now=earlier), "now": now.timestamp()},
        {"name": "suspended", "text": held.card(now=earlier), "now": now.timestamp()},
        {"name": "direct, suspended there", "text": both.card(now=earlier), "now": now.timestamp()},
        {"name": "expired directory", "text": active.card(now=earlier), "now": later.timestamp()},
    ]
    answers = parity(instance, Clock(now), cases)
    assert [a["result"] for a in answers] == ["valid", "status_unknown", "valid", "status_unknown"]
    assert answers[0]["issuer"]["networks"] == [
        {"code": NETWORK, "name": "Migration-Routes network"}
    ]
    assert [a["issuer"]["networks"] for a in answers[1:]] == [[], [], []]
