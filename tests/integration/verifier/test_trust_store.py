"""The trust store file under concurrent use: no torn reads, no lost writes."""

from __future__ import annotations

import os
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


def test_every_write_dates_the_file_after_the_one_it_replaces(
    city: FakeIssuer, instance: Path
) -> None:
    """Readers spot a new version by the file's identity alone, and two writes between two of
    their checks may reuse the inode number and the size: only a later mtime then tells the
    versions apart. It must be later even when the filesystem clock has not moved on since the
    last write (one tick) or has gone back (here: the file dated an hour ahead of it)."""
    store = TrustStore(instance)
    path = instance / "trust.json"
    replaced = path.stat().st_mtime_ns + 3600 * 10**9
    os.utime(path, ns=(replaced, replaced))
    for error in ("first", "other"):  # the same size twice
        with store.transaction() as records:
            records["FR SXB"] = replace(records["FR SXB"], last_error=error)
        written = path.stat().st_mtime_ns
        assert written > replaced
        replaced = written


def test_a_rewrite_in_place_that_keeps_size_and_mtime_is_seen(
    city: FakeIssuer, instance: Path
) -> None:
    """A copy put back over the file in place with its times kept (``cp -p`` of a backup):
    same inode, same size, same mtime. Only the ctime, which no one can set, moves."""
    store = TrustStore(instance)
    cache = TrustCache(store)
    path = instance / "trust.json"
    assert "FR SXB" in cache.current().partners
    before = path.stat()
    time.sleep(0.05)  # past the filesystem clock's tick, so that the ctime can move at all
    with open(path, "r+b") as fh:  # the same bytes but one: a partner whose metadata disagrees
        fh.write(path.read_bytes().replace(b'"code": "FR SXB"', b'"code": "FR SXC"', 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert "FR SXB" not in cache.current().partners
