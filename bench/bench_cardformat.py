"""Card-format benchmarks: QR size by name length, verify rate, status list build.

Run: `python bench/bench_cardformat.py` (or `make bench`). Every figure that has a target is
a ratio or a size measured in this run, so a noisy or slow machine shifts both sides alike.
Timing uses many short interleaved rounds and keeps the fastest round of each side, which
discards the rounds another process disturbed.
"""

from __future__ import annotations

import time
import timeit
from datetime import UTC, date, datetime, timedelta

import qrcode

import cardformat as cf
from cardformat import cose
from cardformat.base45 import b45decode
from cardformat.numbers import MAX_VALUE, format_card_number

NOW = datetime(2026, 11, 26, tzinfo=UTC)
KEY = cf.generate_key()
TRUSTED = cf.TrustedKey(kid=cf.key_id(KEY), public_key=KEY.public_key(), issuer="FR SXB")
RESOLVE = {TRUSTED.kid: TRUSTED}.get


def worst_case_card(name_bytes: int) -> str:
    """Every integer at its longest encoding, a birth date, and a name of the given size."""
    name = ("Ab" * name_bytes)[:name_bytes]
    card = cf.Card(
        number=format_card_number(MAX_VALUE),
        holder_name=name,
        birth_date=date(1900, 1, 1),
        status_index=2**32 - 1,
    )
    return cf.sign_card(
        card, issuer="FR SXB", signing_key=KEY, now=NOW, expires_at=NOW + timedelta(days=1826)
    )


def qr_sizes() -> None:
    print("QR code size (error correction M, alphanumeric mode), worst-case integers:")
    print(f"  {'name bytes':>10} {'text chars':>10} {'QR version':>10}")
    for size in (6, 20, 40, 80, cf.MAX_NAME_BYTES):
        text = worst_case_card(size)
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(text)
        code.make(fit=True)
        assert code.data_list[0].mode == qrcode.util.MODE_ALPHA_NUM
        target = "  (target: <= 9)" if size == 40 else ""
        print(f"  {size:>10} {len(text):>10} {code.version:>10}{target}")


def verify_rate(rounds: int = 200, calls: int = 50) -> None:
    text = worst_case_card(40)
    message = cose.decode_sign1(b45decode(text[4:]))
    to_be_signed = cose.sig_structure(message.protected, message.payload)
    public_key = KEY.public_key()

    def bare() -> None:
        public_key.verify(message.signature, to_be_signed)

    def card() -> None:
        cf.verify_card(text, resolve_key=RESOLVE, now=NOW)

    bare_times, card_times = [], []
    for _ in range(rounds):
        bare_times.append(timeit.timeit(bare, number=calls) / calls)
        card_times.append(timeit.timeit(card, number=calls) / calls)
    bare_best, card_best = min(bare_times), min(card_times)
    bare_median = sorted(bare_times)[rounds // 2]
    card_median = sorted(card_times)[rounds // 2]
    print(f"\nVerify rate ({rounds} interleaved rounds of {calls} calls, 40-byte name):")
    print(
        f"  bare Ed25519PublicKey.verify: {1 / bare_best:8.0f}/s best, "
        f"{1 / bare_median:8.0f}/s median"
    )
    print(
        f"  cardformat.verify_card:       {1 / card_best:8.0f}/s best, "
        f"{1 / card_median:8.0f}/s median"
    )
    print(f"  ratio (best):   {bare_best / card_best:.3f}  (target >= 0.85)")
    print(f"  ratio (median): {bare_median / card_median:.3f}")


def status_list_build() -> None:
    size, revoked = 1_000_000, 10_000
    import random

    indices = random.Random(1).sample(range(size), revoked)
    start = time.perf_counter()
    lst = cf.StatusList(size, bits=2)
    for index in indices:
        lst.set(index, cf.Status.REVOKED)
    token = cf.sign_status_list(
        lst, issuer="FR SXB", uri="https://x/s/0", signing_key=KEY, now=NOW, ttl=3600
    )
    elapsed = time.perf_counter() - start
    print(f"\nStatus list of {size:,} entries, {revoked:,} revoked at random, built and signed:")
    print(f"  {elapsed:.2f} s (target <= 2 s), {len(token) / 1024:.1f} KiB (target <= 150 KB)")


if __name__ == "__main__":
    qr_sizes()
    verify_rate()
    status_list_build()
