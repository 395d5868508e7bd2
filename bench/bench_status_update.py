"""What one revocation costs its status list, at two zlib levels.

A revocation decodes its list, sets one entry and compresses the list again while it holds the
list's row lock (services.cards.status.set_list_status), and the next fetch compresses it once
more to sign it; so the compression time bounds how many revocations per second one list can
take. This measures the update on a default 131,072-entry list with some entries revoked, at
zlib level 9
(what cardformat uses: the status-list draft recommends the highest level, and its examples are
byte-exact at it) and at zlib's default 6 for comparison, with the sizes the two give.

    .venv/bin/python bench/bench_status_update.py [--revoked 3000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import random
import time
import zlib

from cardformat import StatusList


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=131072)
    parser.add_argument("--revoked", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    statuses = StatusList(args.size, 2)
    for index in random.Random(1).sample(range(args.size // 2), args.revoked):
        statuses.set(index, 1)
    raw = statuses.to_bytes()
    for level in (9, 6):
        stored = zlib.compress(raw, level)
        started = time.perf_counter()
        for _ in range(args.rounds):
            again = StatusList.from_lst(stored, bits=2)
            again.set(7, 1)
            zlib.compress(again.to_bytes(), level)
        per_update = (time.perf_counter() - started) / args.rounds
        print(
            f"zlib level {level}: {per_update * 1000:.1f} ms per update "
            f"(decode, set, compress), list {len(stored)} bytes"
        )


if __name__ == "__main__":
    main()
