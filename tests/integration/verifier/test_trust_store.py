"""The trust store file under concurrent use: no torn reads, no lost writes."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from verifier.trust import TrustStore
from verifier.trust_index import TrustCache, TrustIndex

from .helpers import FakeIssuer

_WRITER = """
import sys
from dataclasses import replace
from verifier.trust import TrustStore
store = TrustStore(sys.argv[1])
prefix, count = sys.argv[2], int(sys.argv[3])
for i in range(count):
    with store.transaction() as records:
        template = records["FR SXB"]
        # A large, changing entry makes a torn read likely if writes were not atomic.
        records[f"{prefix}{i}"] = replace(template, code=f"{prefix}{i}", last_error="x" * (i * 97))
"""


def _writer(instance: Path, prefix: str, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(instance), prefix, str(count)])


def test_readers_see_whole_versions_and_concurrent_writers_lose_nothing(
    city: FakeIssuer, instance: Path
) -> None:
    store = TrustStore(instance)
    cache = TrustCache(store)
    writers = [_writer(instance, "A", 40), _writer(instance, "B", 40)]
    reads = 0
    while any(w.poll() is None for w in writers):
        records = store.read()  # raises TrustStoreError on a torn or partial file
        assert "FR SXB" in records
        index = cache.current()
        assert "FR SXB" in index.partners  # the real partner always verifies
        reads += 1
    assert all(w.returncode == 0 for w in writers)
    assert reads > 10
    final = store.read()
    assert {f"A{i}" for i in range(40)} <= set(final)
    assert {f"B{i}" for i in range(40)} <= set(final)
    # The copies carry FR SXB's metadata under other codes: loading refuses them, loudly.
    index = TrustIndex.build(final)
    assert set(index.partners) == {"FR SXB"}
    assert any("A0" in problem for problem in index.problems)


def test_no_temporary_files_are_left_behind(city: FakeIssuer, instance: Path) -> None:
    store = TrustStore(instance)
    for _ in range(3):
        with store.transaction() as records:
            records["FR SXB"] = replace(records["FR SXB"], last_error=None)
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key", "trust.json", "trust.lock"]


def test_a_failed_transaction_writes_nothing(city: FakeIssuer, instance: Path) -> None:
    store = TrustStore(instance)
    before = (instance / "trust.json").read_bytes()
    try:
        with store.transaction() as records:
            records.clear()
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert (instance / "trust.json").read_bytes() == before


def test_reload_interval_bounds_the_checks(city: FakeIssuer, instance: Path, clock: Any) -> None:
    store = TrustStore(instance)
    cache = TrustCache(store, check_interval=0.3)
    first = cache.current()
    with store.transaction() as records:
        records.pop("FR SXB")
    assert cache.current() is first  # within the interval: no stat, same index
    time.sleep(0.35)
    assert cache.current().partners == {}
