"""Benchmark: batch printing of cards with photos into one PDF.

Targets (issue 3): 10,000 cards within 120 s, peak memory at most 300 MB.

    .venv/bin/python bench/bench_print.py                 # 10,000 cards, A4 sheets
    .venv/bin/python bench/bench_print.py --cards 2000 --layout card

Every card gets its own signed token (cardformat.sign_card) and its own photo (distinct bytes,
so each is embedded separately, as in a real batch). The photos come from a pool of 32 JPEGs made
with noise so they compress like real 300 x 400 portraits; each card's copy differs by a JPEG
comment segment, which costs nothing to decode. Cards are produced lazily, as the CLI will read
them from the database, so the memory measured is the renderer's.

Prints the wall and CPU time (the machine may be shared: the CPU time is what the renderer
needs), the load average, cards per second, the peak RSS of the process, the RSS sampled along the
way (flat means streaming works), and the PDF size.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from cardformat import Card, generate_card_number, generate_key, sign_card
from cardservice.printing import PrintableCard, render_batch

# Given and family names in several scripts, combined so that (almost) every card has its own
# name, as in a real batch: the renderer caches shaped text, a bench of ten names would flatter it.
GIVEN = [
    "Zoë",
    "Анна",
    "Σωκράτης",
    "محمد",
    "小龍",
    "太郎",
    "민준",
    "Nguyễn Thị",
    "Adébáyọ̀",
    "Maria da Conceição",
    "Olek",
    "Fatima",
    "Dawit",
    "Priya",
    "Yusuf",
    "Chiara",
    "Kwame",
]
FAMILY = [
    "Łukasiewicz-Ñúñez",
    "Каренина",
    "Παπαδόπουλος",
    "الحسن",
    "李",
    "山田",
    "김",
    "Minh Khai",
    "Olúwaseun",
    "Gonçalves Ferreira",
    "Kowalski",
    "Benali",
    "Tesfaye",
    "Raman",
    "Demir",
    "Esposito",
    "Mensah",
    "Haddad",
    "Novak",
    "Okafor",
    "Silva",
    "Rossi",
    "Ivanova",
    "Yilmaz",
]


def _name(i: int) -> str:
    given = GIVEN[i % len(GIVEN)]
    family = FAMILY[(i // len(GIVEN)) % len(FAMILY)]
    # Past the combinations, a middle initial keeps names distinct.
    initial = chr(ord("A") + (i // (len(GIVEN) * len(FAMILY))) % 26)
    return f"{given} {initial}. {family}"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20  # MiB, like ru_maxrss / 1024 below


def _photo_pool(count: int, rnd: random.Random) -> list[bytes]:
    pool = []
    for i in range(count):
        base = Image.effect_noise((300, 400), 40 + i).convert("RGB")
        tint = Image.new("RGB", (300, 400), (rnd.randrange(256), 120, rnd.randrange(256)))
        buf = io.BytesIO()
        Image.blend(base, tint, 0.5).save(buf, "JPEG", quality=85)
        pool.append(buf.getvalue())
    return pool


def _unique(jpeg: bytes, i: int) -> bytes:
    # A COM segment right after SOI: different bytes, same image.
    comment = f"card {i}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def cards(n: int) -> Iterator[PrintableCard]:
    rnd = random.Random(7)
    pool = _photo_pool(32, rnd)
    key = generate_key()
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    expires = now + timedelta(days=5 * 365)
    for i in range(n):
        name = _name(i)
        number = generate_card_number()
        birth = date(1950, 1, 1) + timedelta(days=rnd.randrange(25000))
        token = sign_card(
            Card(number=number, holder_name=name, birth_date=birth, status_index=i),
            issuer="FR SXB",
            signing_key=key,
            now=now,
            expires_at=expires,
        )
        yield PrintableCard(
            city_name="Strasbourg",
            holder_name=name,
            birth_date=birth,
            gender_marker=("F", "M", "X", None)[i % 4],
            number=number,
            expires=expires.date(),
            photo=_unique(pool[i % len(pool)], i),
            qr_text=token,
            issuer_code="FR SXB",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--layout", choices=("a4", "card"), default="a4")
    parser.add_argument("--out", help="PDF path (default: a temporary file, deleted)")
    args = parser.parse_args()

    samples: list[tuple[int, float]] = []
    step = max(1, args.cards // 10)

    def progress(done: int) -> None:
        if done % step == 0:
            samples.append((done, _rss_mb()))

    rss_before = _rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.out) if args.out else Path(tmp) / "batch.pdf"
        start = time.perf_counter()
        cpu_start = time.process_time()
        with path.open("wb") as out:
            count = render_batch(cards(args.cards), out, layout=args.layout, progress=progress)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        size = path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    worker_cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime

    print(f"cards rendered      {count} ({args.layout} layout)")
    print(f"wall time           {elapsed:.1f} s  (target <= 120 s for 10,000)")
    print(f"CPU time            {cpu:.1f} s  (wall exceeds it when other work shares the CPUs)")
    print(f"rate                {count / elapsed:.0f} cards/s, {cpu / count * 1e3:.2f} ms CPU/card")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average        {load} on {os.cpu_count()} CPUs")
    print(f"peak RSS            {peak:.0f} MiB  (target <= 300 MB = 286 MiB)")
    print(f"QR worker process   peak RSS {worker_peak:.0f} MiB, CPU {worker_cpu:.1f} s")
    print(f"RSS before          {rss_before:.0f} MiB")
    print("RSS along the way   " + ", ".join(f"{n}: {mb:.0f} MiB" for n, mb in samples))
    print(f"PDF size            {size / 2**20:.1f} MiB ({size / count / 1024:.1f} KiB/card)")


if __name__ == "__main__":
    main()
