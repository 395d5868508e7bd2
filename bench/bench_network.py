"""Network benchmarks (issue 15): syncing a 200-member network, verifying with 1,000 member
cities trusted, and the size of a 1,000-member directory.

Run from the repository root: ``.venv/bin/python bench/bench_network.py``.
Options: ``--members N`` for the sync timing (default 200), ``--trusted N`` for the throughput
comparison (default 1000), ``--rounds N`` of that comparison, ``--only a|b|c`` (repeatable).

(a) N fake issuing cities (bench_federation's: own root and signing keys, signed metadata, a
    131,072-entry status list with about 1% revoked) behind one HTTP server on 127.0.0.1, and a
    network directory listing all of them, served there too. A fresh verifier pins only the
    network (``networks add``: directory, then every member's metadata and lists); then every
    member re-signs its metadata and its list (one more revocation each) and the coordinator
    re-publishes, and one ``verifier sync`` subprocess (the real command, interpreter start
    included) fetches and verifies the directory and all of the members. Target: at most 10 s.
    Baseline in the same run: the same N cities pinned directly, one by one, and the same sync.
(b) Verify throughput with 1,000 member cities trusted through a network against 1: two
    verifier instances whose stores hold the same card's city (plus 999 others in the first),
    POST /api/v1/verify through Flask's test client, rounds interleaved, best round of each.
    Target: ratio at least 0.9.
(c) The size of a 1,000-member directory, as ``citycard-network publish`` signs it: each
    member with a name in one or two languages, a metadata URL of about 55 characters, its root
    key, state and since, and its admission in the history. Target: at most 200 KB.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_federation import Cities, FakeCity, _pin  # noqa: E402

from cardformat import (  # noqa: E402
    MIN_STATUS_LIST_SIZE,
    StatusList,
    fingerprint,
    generate_key,
    public_key_bytes,
)
from tests.fake_city import (  # noqa: E402
    network_record,
    partner_record,
    published_documents,
    signed_directory,
)

VENV_BIN = Path(sys.executable).parent
NETWORK = "BENCH-NET"


def _members(cities: list[FakeCity]) -> list[tuple[str, dict[str, str], str, bytes]]:
    return [
        (city.code, {"en": f"Bench City {city.n}"}, city.metadata_url, public_key_bytes(city.root))
        for city in cities
    ]


def _sync(instance: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    env.update(VERIFIER_INSTANCE_PATH=str(instance), VERIFIER_ENV="development")
    start = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "verifier"), "sync"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed, done.stdout


def bench_sync(count: int, workdir: Path) -> float:
    from verifier.fetch import HttpFetcher
    from verifier.network_sync import add_network, sync_networks
    from verifier.sync import sync_partners
    from verifier.trust import TrustStore

    now = datetime.now(UTC)
    cities = Cities(count, now)
    try:
        root = generate_key()

        def publish_directory(serial: int, at: datetime) -> None:
            cities.docs["/network"] = signed_directory(
                network=NETWORK,
                root=root,
                members=_members(cities.cities),
                now=at,
                serial=serial,
                admitted_at=now,
            )

        publish_directory(1, now)
        base = cities.cities[0].base
        instance = workdir / "verifier-network"
        store = TrustStore(instance)
        fetch = HttpFetcher(timeout=10, retries=0)
        start = time.perf_counter()
        add_network(
            store,
            directory_url=f"{base}/network",
            pinned_fingerprint=fingerprint(root),
            now=now,
            fetch=fetch,
        )
        (report,) = sync_networks(store, now=now, fetch=fetch)
        assert report.ok and len(report.added) == count, report
        partners = sync_partners(store, now=now, fetch=fetch)
        assert all(p.ok for p in partners) and len(partners) == count
        joined = time.perf_counter() - start
        direct = workdir / "verifier-direct"
        _pin(direct, cities.cities, now)

        later = now + timedelta(seconds=2)
        for city in cities.cities:  # every member changed: metadata and list re-signed
            city.revoked.add(
                next(i for i in range(MIN_STATUS_LIST_SIZE - 1, -1, -1) if i not in city.revoked)
            )
            cities.publish(city, later)
        publish_directory(2, later)
        # Interleaved: the direct baseline first, then the network, so neither sees a warmer
        # machine (both fetch the same, already re-signed, documents).
        direct_s, _ = _sync(direct)
        network_s, out = _sync(instance)
        assert out.count("1/1 status lists updated") == count, out
        assert f"network {NETWORK}: ok, serial 2, {count} active" in out, out
    finally:
        cities.close()
    print(f"\n(a) `verifier sync` of a {count}-member network on loopback, every member changed")
    print(f"    (directory + each member's metadata and {MIN_STATUS_LIST_SIZE:,}-entry list):")
    print(f"    through the network:          {network_s:.2f} s (target <= 10 s)")
    print(f"    the same {count} pinned directly: {direct_s:.2f} s (baseline)")
    print(f"    ratio network / direct:       {network_s / direct_s:.2f}")
    print(f"    (joining: `networks add` then the first sync of {count} members: {joined:.2f} s)")
    return network_s


def _member_city(n: int, now: datetime, base: str) -> tuple[str, object, object, bytes, bytes]:
    city = FakeCity(n, base)
    docs = published_documents(
        code=city.code,
        names={"en": f"Bench City {n}"},
        root=city.root,
        signing_key=city.signer,
        statuses=StatusList(MIN_STATUS_LIST_SIZE, bits=2),
        base_url=base,
        prefix=city.prefix,
        now=now,
        key_not_before=now - timedelta(days=1),
        key_not_after=now + timedelta(days=365),
    )
    return (
        city.code,
        city,
        city.root,
        docs[f"{city.prefix}/issuer"],
        docs[f"{city.prefix}/status/0"],
    )


def _network_instance(instance: Path, cities: list[tuple], now: datetime, base: str) -> None:
    from verifier.trust import TrustStore

    root = generate_key()
    members = [
        (code, {"en": code}, f"{base}{city.prefix}/issuer", public_key_bytes(city_root))
        for code, city, city_root, _meta, _list in cities
    ]
    directory = signed_directory(network=NETWORK, root=root, members=members, now=now)
    with TrustStore(instance).transaction_all() as document:
        for code, city, city_root, meta, token in cities:
            record = partner_record(
                code=code,
                metadata_url=f"{base}{city.prefix}/issuer",
                root=city_root,
                metadata=meta,
                status_list_uri=f"{base}{city.prefix}/status/0",
                status_list_token=token,
                at=now,
            )
            document.partners[code] = replace(record, direct=False)
        document.networks[NETWORK] = network_record(
            network=NETWORK, root=root, directory=directory, url=f"{base}/network", at=now
        )


def bench_throughput(count: int, rounds: int, workdir: Path) -> float:
    from verifier import create_app

    now = datetime.now(UTC)
    base = "https://bench.example"
    start = time.perf_counter()
    cities = [_member_city(n, now, base) for n in range(count)]
    built = time.perf_counter() - start
    card_city = cities[0][1]
    card = card_city.card(now)
    one, many = workdir / "verifier-one-member", workdir / "verifier-many-members"
    _network_instance(one, [cities[0]], now, base)
    # The card's city last, so it is not first in any ordering by insertion.
    _network_instance(many, [*cities[1:], cities[0]], now, base)
    clients = {}
    loads = {}
    for label, instance in (("1 member", one), (f"{count} members", many)):
        app = create_app(
            {
                "INSTANCE_PATH": str(instance),
                "ENV": "production",
                "SECRET_KEY": "bench-" + "x" * 40,
                "RATELIMIT_ENABLED": False,
            }
        )
        client = app.test_client()
        start = time.perf_counter()
        answer = client.post("/api/v1/verify", json={"qr": card}).get_json()
        loads[label] = time.perf_counter() - start  # the first request loads the store
        assert answer["result"] == "valid", answer
        assert answer["issuer"]["networks"][0]["code"] == NETWORK
        clients[label] = client
    calls = 300
    labels = list(clients)
    # Per round: verifications per second of wall-clock time, and per second of this process's
    # CPU time, which the other processes of a shared machine disturb far less.
    rates: dict[str, list[float]] = {label: [] for label in labels}
    cpu_rates: dict[str, list[float]] = {label: [] for label in labels}
    for n in range(rounds + 1):
        for label in labels if n % 2 else reversed(labels):  # neither side always first
            client = clients[label]
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                client.post("/api/v1/verify", json={"qr": card})
            if n:  # round 0 warms both sides up
                rates[label].append(calls / (time.perf_counter() - start))
                cpu_rates[label].append(calls / (time.process_time() - cpu))
    print(f"\n(b) POST /api/v1/verify in-process, a member's card, {rounds} interleaved rounds")
    print(f"    of {calls} ({count} member cities built and signed in {built:.1f} s):")
    for label in labels:
        side, cpu_side = rates[label], cpu_rates[label]
        print(
            f"    {label} trusted: wall best {max(side):,.0f}/s, median "
            f"{statistics.median(side):,.0f}/s; CPU best {max(cpu_side):,.0f}/s, median "
            f"{statistics.median(cpu_side):,.0f}/s (store loaded in {loads[label] * 1000:.0f} ms)"
        )
    results = {}
    for what, table in (("wall", rates), ("CPU", cpu_rates)):
        one_rates, many_rates = table[labels[0]], table[labels[1]]
        best = max(many_rates) / max(one_rates)
        paired = statistics.median(m / o for m, o in zip(many_rates, one_rates, strict=True))
        print(f"    ratio ({what} time): best rounds {best:.3f}, median per-round {paired:.3f}")
        results[what] = best
    print("    (target >= 0.9)")
    return results["CPU"]


def bench_size(count: int) -> int:
    rng = random.Random(15)
    syllables = ["ber", "lin", "sa", "o", "pau", "lo", "tu", "nis", "ma", "drid", "lis", "bo", "a"]
    members = []
    for n in range(count):
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).title()
        slug = name.lower()
        names = {"en": name} if n % 2 else {"en": name, "fr": f"{name}-la-Ville"}
        url = f"https://cards.{slug}-{n}.example.org/.well-known/citycard/issuer"
        members.append(
            (
                f"Z{chr(65 + n // 676 % 26)} {chr(65 + n // 26 % 26)}{chr(65 + n % 26)}X",
                names,
                url,
                public_key_bytes(generate_key()),
            )
        )
    data = signed_directory(
        network=NETWORK, root=generate_key(), members=members, now=datetime.now(UTC)
    )
    urls = statistics.mean(len(m[2]) for m in members)
    print(f"\n(c) A directory of {count} members (names in one or two languages, metadata URLs")
    print(f"    of {urls:.0f} characters on average, each admission in the history):")
    per_member = len(data) / count
    print(
        f"    {len(data):,} bytes = {len(data) / 1024:.1f} KiB, {per_member:.0f} bytes per member"
    )
    print("    (target <= 200 KB = 200,000 bytes)")
    return len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--trusted", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--only", choices=["a", "b", "c"], action="append", help="run only these parts"
    )
    args = parser.parse_args()
    parts = set(args.only or "abc")
    workdir = Path(tempfile.mkdtemp(prefix="bench-network-"))
    try:
        if "c" in parts:
            bench_size(1000)
        if "a" in parts:
            bench_sync(args.members, workdir)
        if "b" in parts:
            bench_throughput(args.trusted, args.rounds, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
