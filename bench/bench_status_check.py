"""What the health endpoint's status-list check costs per list (services.statuscheck.check_tokens).

Per list it decodes the stored list, verifies the cached token's signature and decodes its list,
and compares the two: no card is read, so the cost grows with the number of lists, not of cards.
This times those steps on a default 131,072-entry list with 3,000 entries revoked.

    .venv/bin/python bench/bench_status_check.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

import cardformat
from cardformat import StatusList, TrustedKey


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revoked", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    key = cardformat.generate_key()
    kid = cardformat.key_id(key)
    statuses = StatusList(131072, 2)
    for index in random.Random(1).sample(range(65536), args.revoked):
        statuses.set(index, 1)
    stored = statuses.encode_lst()
    now = datetime.now(UTC)
    token = cardformat.sign_status_list(
        statuses,
        issuer="FR SXB",
        uri="https://cards.example/.well-known/citycard/status/0",
        signing_key=key,
        now=now,
        ttl=3600,
        expires_at=now + timedelta(days=1),
    )
    public = cardformat.load_public_key(cardformat.public_key_bytes(key))
    resolve = {kid: TrustedKey(kid=kid, public_key=public, issuer="FR SXB")}.get
    started = time.perf_counter()
    for _ in range(args.rounds):
        mine = StatusList.from_lst(stored, bits=2)
        published = cardformat.verify_status_list(token, resolve_key=resolve, now=now)
        assert mine.to_bytes() == published.status_list.to_bytes()
    per_list = (time.perf_counter() - started) / args.rounds
    print(f"{per_list * 1000:.2f} ms per list ({args.revoked} revoked of 131072)")


if __name__ == "__main__":
    main()
