"""Sync over an unreliable network: timeouts, retries with backoff, unreachable partners.

Whatever the network does, each partner gets its own report and B keeps its last good copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .conftest import METADATA_PATH, City, MetadataProxy, Verifier


def test_a_transient_server_error_is_retried(
    city_a: City, make_verifier: Callable[..., Verifier], proxy_for: Callable[[City], MetadataProxy]
) -> None:
    verifier = make_verifier(SYNC_RETRIES=1)
    proxy = proxy_for(city_a)
    assert verifier.pin(city_a, url=proxy.metadata_url).exit_code == 0
    proxy.requests.clear()
    proxy.failures = 1
    result = verifier.sync()
    assert result.exit_code == 0, result.output
    assert "FR SXB: ok" in result.output
    assert proxy.requests.count(METADATA_PATH) == 2  # the 503, then the retry


def test_a_hanging_partner_times_out_and_the_others_still_sync(
    city_a: City,
    city_b: City,
    make_verifier: Callable[..., Verifier],
    proxy_for: Callable[[City], MetadataProxy],
) -> None:
    verifier = make_verifier(SYNC_TIMEOUT=1, SYNC_RETRIES=1)
    proxy = proxy_for(city_a)
    assert verifier.pin(city_a, url=proxy.metadata_url).exit_code == 0
    assert verifier.pin(city_b).exit_code == 0
    card = city_a.issue()
    assert verifier.verify(card.qr) == "valid"

    proxy.requests.clear()
    proxy.delay = 3.0
    started = time.monotonic()
    result = verifier.sync()
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "FR SXB: FAILED" in result.output and "timed out" in result.output
    assert "BR SAO: ok" in result.output
    assert proxy.requests.count(METADATA_PATH) == 2  # one retry after a backoff
    assert elapsed < 6  # two 1 s timeouts and a 0.5 s backoff, not the server's 3 s twice
    assert verifier.verify(card.qr) == "valid"  # last good copy


def test_an_unreachable_partner_keeps_its_last_good_copy(
    city_a: City, city_b: City, verifier_b: Verifier
) -> None:
    assert verifier_b.pin(city_a).exit_code == 0
    assert verifier_b.pin(city_b).exit_code == 0
    card = city_a.issue()
    city_a.server.shutdown()
    city_a.server.server_close()
    result = verifier_b.sync()
    assert result.exit_code == 1
    assert "FR SXB: FAILED" in result.output and "cannot fetch" in result.output
    assert "BR SAO: ok" in result.output
    assert verifier_b.verify(card.qr) == "valid"
    assert "last error:   metadata: cannot fetch" in verifier_b.cli("partners", "list").output
