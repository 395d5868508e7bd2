"""Memory and time of photo uploads under gunicorn: six costly uploads at once.

What it does:

1. prepares a fresh instance folder (SQLite, development mode so the secrets are generated):
   `db upgrade`, `init-city`, an API token, through the `cardservice` command;
2. starts gunicorn with the deployment's ``config/gunicorn.conf.py`` (gthread, 2 threads per
   worker) and ``--workers`` workers on 127.0.0.1;
3. warms every worker up with small enrolments, then reads each worker's peak resident memory
   so far (VmHWM in /proc/PID/status): the baseline;
4. for each kind of photo, posts ``--concurrency`` enrolments at once (POST /api/v1/residents,
   base64 photo, as an integration does) and prints the status codes, the time of each upload
   and each worker's VmHWM after the round.

The kinds: the report's 6300 x 6300 grey PNG (38 KB), the same as RGBA, a 6300 x 6300
progressive JPEG, and the most costly photos the default policy still accepts (a PNG and a
progressive JPEG just inside photo.max_decode_mb, a 12-megapixel phone JPEG, a PNG of noise
close to photo.max_bytes). VmHWM only grows,
so the rounds run from the cheapest to the costliest accepted kind; the refused kinds come first.

    .venv/bin/python bench/bench_upload.py [--workers 3] [--concurrency 6] [--port 25080]
        [--kinds N]   # only the first N kinds (code without the bound: each round's peak stays)
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import os
import random
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gunicorn_server
from PIL import Image


def _png(mode: str, size: tuple[int, int], noise: int = 0) -> bytes:
    image = Image.new(mode, size, 0 if mode == "L" else (90, 120, 200, 255)[: len(mode)])
    if noise:
        # A band of random pixels: a realistic compressed size rather than a uniform block.
        band = Image.frombytes("RGB", (size[0], noise), random.randbytes(size[0] * noise * 3))
        image.paste(band.convert(mode), (0, (size[1] - noise) // 2))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _jpeg(size: tuple[int, int], progressive: bool) -> bytes:
    image = Image.new("RGB", size, (180, 140, 120))
    band = Image.frombytes("L", (size[0], 64), random.randbytes(size[0] * 64))
    image.paste(band.convert("RGB"), (0, size[1] // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, progressive=progressive)
    return out.getvalue()


KINDS = [
    ("refused: report's PNG, grey 6300x6300", lambda: _png("L", (6300, 6300))),
    ("refused: PNG RGBA 6300x6300", lambda: _png("RGBA", (6300, 6300))),
    ("refused: progressive JPEG 6300x6300", lambda: _jpeg((6300, 6300), True)),
    ("accepted: phone JPEG 4032x3024", lambda: _jpeg((4032, 3024), False)),
    ("accepted: progressive JPEG 2700x2700", lambda: _jpeg((2700, 2700), True)),
    ("accepted: PNG RGBA 1730x1730", lambda: _png("RGBA", (1730, 1730), noise=64)),
    ("accepted: PNG RGB 2500x2500", lambda: _png("RGB", (2500, 2500), noise=64)),
    # Close to photo.max_bytes: the request's own copies (JSON, base64) weigh most here.
    ("accepted: PNG RGB 1250x1250 of noise", lambda: _png("RGB", (1250, 1250), noise=1250)),
]


def _cardservice(instance: Path, *args: str) -> str:
    env = {**os.environ, "CARDSERVICE_INSTANCE_PATH": str(instance)}
    env["CARDSERVICE_ENV"] = "development"
    return gunicorn_server.cardservice(env, *args)


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _workers(master: int) -> list[int]:
    return sorted(
        int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()
    )


def _enrol(url: str, token: str, photo: bytes, n: int) -> tuple[int, float, str]:
    body = {
        "display_name": f"Bench Resident {n}",
        "birth_date": "1980-01-01",
        "gender_marker": None,
        "preferred_language": "fr",
        "photo": base64.b64encode(photo).decode(),
        "documents": ["passport", "utility_bill"],
    }
    request = urllib.request.Request(
        url + "/api/v1/residents",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, ""
    except urllib.error.HTTPError as error:
        status, text = error.code, json.loads(error.read() or b"{}").get("code", "")
    return status, time.perf_counter() - start, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--port", type=int, default=25080)
    parser.add_argument(
        "--kinds", type=int, default=len(KINDS), help="run only the first N kinds of photo"
    )
    args = parser.parse_args()
    random.seed(7)

    instance = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    process = None
    try:
        _cardservice(instance, "db", "upgrade")
        _cardservice(instance, "init-city", "--code", "FR SXB", "--name", "Strasbourg")
        token = _cardservice(instance, "tokens", "create", "bench").strip().splitlines()[-1]
        env = {
            **os.environ,
            "CARDSERVICE_INSTANCE_PATH": str(instance),
            "CARDSERVICE_ENV": "development",
            "CARDSERVICE_BIND": f"127.0.0.1:{args.port}",
            "CARDSERVICE_WORKERS": str(args.workers),
            "CARDSERVICE_LOG_LEVEL": "warning",
        }
        process = gunicorn_server.start(env, args.port)
        url = f"http://127.0.0.1:{args.port}"
        while len(_workers(process.pid)) < args.workers:
            time.sleep(0.2)
        small = _jpeg((600, 800), False)
        with ThreadPoolExecutor(args.concurrency) as pool:
            warm = list(pool.map(lambda n: _enrol(url, token, small, n), range(4 * args.workers)))
        if {status for status, _t, _c in warm} != {201}:
            raise SystemExit(f"warm-up enrolments failed: {warm}")
        workers = _workers(process.pid)
        print(f"gunicorn: {args.workers} gthread workers x 2 threads, {args.concurrency} at once")
        print("baseline VmHWM per worker (MB):", " ".join(f"{_peak_mb(p):.0f}" for p in workers))
        counter = 1000
        for name, make in KINDS[: args.kinds]:
            photo = make()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(
                    pool.map(
                        functools.partial(_enrol, url, token, photo),
                        range(counter, counter + args.concurrency),
                    )
                )
            counter += args.concurrency
            statuses = sorted({f"{s} {c}".strip() for s, _t, c in results})
            times = sorted(t for _s, t, _c in results)
            peaks = " ".join(f"{_peak_mb(p):.0f}" for p in workers)
            print(
                f"{name:40s} {len(photo) / 1024:7.0f} KB  {', '.join(statuses):26s} "
                f"time per upload {times[0]:.2f}-{times[-1]:.2f} s  VmHWM (MB): {peaks}"
            )
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
