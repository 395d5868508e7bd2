"""Card-format benchmarks: QR size by name length, verify rate, status list build.

Run: `python bench/bench_cardformat.py` (or `make bench`). Every figure that has a target is
a ratio or a size measured in this run, so a noisy or slow machine shifts both sides alike.
Timing uses many short interleaved rounds and keeps the fastest round of each side, which
discards the rounds another process disturbed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import timeit
from datetime import UTC, date, datetime, timedelta

import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cardformat as cf
from cardformat import base45, cose
from cardformat.base45 import b45decode
from cardformat.numbers import MAX_VALUE, format_card_number

NOW = datetime(2026, 11, 26, tzinfo=UTC)
# A fixed key: the cost of an Ed25519 verification varies a little with the key, and runs
# should compare like with like.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
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
    decoder = "C accelerator" if base45._accelerated_decode else "pure Python (not built)"
    print(f"\nVerify rate ({rounds} interleaved rounds of {calls} calls, 40-byte name):")
    print(f"  base45 decoding: {decoder}")
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


def _run_side(side: str, calls: int) -> None:
    """Body of one callgrind run: `calls` verifications of one side, nothing else."""
    text = worst_case_card(40)
    message = cose.decode_sign1(b45decode(text[4:]))
    to_be_signed = cose.sig_structure(message.protected, message.payload)
    public_key = KEY.public_key()
    for _ in range(calls):
        if side == "bare":
            public_key.verify(message.signature, to_be_signed)
        else:
            cf.verify_card(text, resolve_key=RESOLVE, now=NOW)


def instruction_ratio(calls: int = 300) -> None:
    """The same ratio in CPU instructions (valgrind's callgrind), which other processes cannot
    disturb: each side runs once with 0 and once with `calls` verifications, and the
    difference divided by `calls` is the cost of one."""
    if not shutil.which("valgrind"):
        print("\nInstruction counts: valgrind not installed (apt-get install valgrind), skipped")
        return
    per_call = {}
    for side in ("bare", "card"):
        counts = []
        for n in (0, calls):
            result = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    sys.executable,
                    __file__,
                    "--side",
                    side,
                    str(n),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            counts.append(int(re.search(r"Collected : (\d+)", result.stderr).group(1)))
        per_call[side] = (counts[1] - counts[0]) / calls
    print(f"\nInstructions per verification (callgrind, {calls} calls):")
    print(f"  bare Ed25519PublicKey.verify: {per_call['bare']:10,.0f}")
    print(f"  cardformat.verify_card:       {per_call['card']:10,.0f}")
    print(f"  ratio: {per_call['bare'] / per_call['card']:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--side"]:
        _run_side(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    qr_sizes()
    verify_rate()
    instruction_ratio()
    status_list_build()
