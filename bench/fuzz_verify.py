"""Fuzz verify_card: at least 1,000,000 random and mutated inputs, zero unexpected exceptions.

Run: `python bench/fuzz_verify.py [--inputs N] [--workers W] [--seed S]`. Not part of
`make test` (it takes minutes); the property tests in tests/unit/cardformat run a bounded
version of the same idea on every test run.

Inputs come from six generators, in equal shares: random text, random base45 text behind the
prefix, random bytes as base45, valid tokens with 1-8 random byte changes, valid tokens cut or
extended, and valid tokens with one CBOR item swapped for another. Every input must end in a
CardFormatError or, for an unchanged token, in the card; anything else is a bug and is printed
with the input that caused it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

import cbor2

import cardformat as cf
from cardformat.base45 import ALPHABET, b45decode, b45encode

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _setup(seed: int) -> tuple[list[bytes], cf.KeyResolver]:
    rng = random.Random(seed)
    key = cf.generate_key()
    trusted = cf.TrustedKey(kid=cf.key_id(key), public_key=key.public_key(), issuer="FR SXB")
    tokens = []
    for name in ("Amina Diallo", "فاطمة الزهراء", "王秀英", "É" * 50, "Ana"):
        card = cf.Card(
            number=cf.generate_card_number(),
            holder_name=name,
            birth_date=rng.choice([None, date(1991, 4, 23), date(1931, 1, 1)]),
            status_index=rng.randrange(2**32),
        )
        text = cf.sign_card(
            card, issuer="FR SXB", signing_key=key, now=NOW, expires_at=NOW + timedelta(days=900)
        )
        tokens.append(b45decode(text[4:]))
    return tokens, {trusted.kid: trusted}.get


def _inputs(rng: random.Random, tokens: list[bytes]):  # type: ignore[no-untyped-def]
    kind = rng.randrange(6)
    token = rng.choice(tokens)
    if kind == 0:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 80))), False
    if kind == 1:
        return "MC1:" + "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 420))), False
    if kind == 2:
        return "MC1:" + b45encode(rng.randbytes(rng.randrange(0, 300))), False
    if kind == 3:
        data = bytearray(token)
        for _ in range(rng.randrange(1, 9)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return "MC1:" + b45encode(bytes(data)), bytes(data) == token
    if kind == 4:
        cut = rng.randrange(-40, 40)
        data = token[:cut] if cut < 0 else token + rng.randbytes(cut)
        return "MC1:" + b45encode(data), cut == 0
    # Structure-aware: decode, replace one element of the COSE array or of the claims, re-encode.
    item = cbor2.loads(token)
    parts = list(item.value)
    replacement = rng.choice(
        [b"", {}, [], 0, -1, 2**64, "x", None, True, 1.5, cbor2.CBORTag(100, 1), b"\x00" * 70]
    )
    if rng.random() < 0.5:
        parts[rng.randrange(4)] = replacement
    else:
        claims = cbor2.loads(parts[2])
        key = rng.choice(list(claims))
        claims[key] = replacement
        parts[2] = cbor2.dumps(claims)
    data = cbor2.dumps(cbor2.CBORTag(rng.choice([18, 18, 18, 98]), parts))
    return "MC1:" + b45encode(data), data == token  # a swap for an equal item changes nothing


def _worker(args: tuple[int, int]) -> tuple[int, int, list[str]]:
    seed, count = args
    tokens, resolve = _setup(seed)
    rng = random.Random(seed)
    failures: list[str] = []
    verified = 0
    for _ in range(count):
        text, may_verify = _inputs(rng, tokens)
        try:
            cf.verify_card(text, resolve_key=resolve, now=NOW)
        except cf.CardFormatError:
            continue
        except Exception as exc:  # the point of the fuzz run: anything else is a bug
            failures.append(f"{type(exc).__name__}: {exc} for {text!r}")
            continue
        verified += 1
        if not may_verify:
            failures.append(f"verified a changed token: {text!r}")
    return count, verified, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()
    batch = 10_000
    jobs = [
        (args.seed + i, min(batch, args.inputs - i * batch))
        for i in range((args.inputs + batch - 1) // batch)
    ]
    start = time.perf_counter()
    done = verified = 0
    failures: list[str] = []
    with multiprocessing.Pool(args.workers) as pool:
        for count, ok, bad in pool.imap_unordered(_worker, jobs):
            done += count
            verified += ok
            failures += bad
            print(
                f"\r{done:>9,} / {args.inputs:,} inputs, {len(failures)} unexpected",
                end="",
                flush=True,
            )
    elapsed = time.perf_counter() - start
    print(
        f"\n{done:,} inputs in {elapsed:.0f} s: {verified:,} verified (unchanged tokens), "
        f"{done - verified - len(failures):,} typed errors, {len(failures)} unexpected"
    )
    for failure in failures[:20]:
        print("  ", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
