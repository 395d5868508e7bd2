"""Verifier throughput under gunicorn: POST /api/v1/verify against GET /api/v1/ping.

Run from the repository root: ``python bench/bench_verify.py`` (needs ``wrk``: apt-get install
wrk). Options: ``--duration S`` per round (default 5), ``--rounds N`` (default 3),
``--partners N`` for the many-partners comparison (default 200, 0 to skip).

What it does, all on 127.0.0.1:
1. builds fake issuing cities with cardformat (root and signing keys, signed metadata, a signed
   131,072-entry status list) and serves their publications from a small HTTP server;
2. pins and syncs them into a fresh verifier instance folder with the verifier's own code
   (``partners add`` = fetch, verify against the fingerprint, sync the status lists);
3. starts gunicorn with the deployment's ``config/verifier.gunicorn.conf.py`` and 2 workers
   (production mode, rate limiting on with a limit the benchmark cannot reach, so both
   endpoints pay for it alike);
4. drives wrk at 16 connections, alternating ping and verify rounds in the same server run,
   and reports the rate ratio (target >= 0.7), verify's p99 (target <= 20 ms) and errors (0);
5. with ``--partners``: a second instance with that many cities pinned, rounds interleaved with
   the one-city instance, and the verify rate ratio (target >= 0.9).

Rounds alternate so that load from other processes on the machine hits both sides; each
side's figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cardformat import (  # noqa: E402
    MIN_STATUS_LIST_SIZE,
    StatusList,
    fingerprint,
    generate_key,
)
from tests.fake_city import published_documents, signed_card  # noqa: E402
from verifier.fetch import HttpFetcher  # noqa: E402
from verifier.sync import add_partner, sync_partners  # noqa: E402
from verifier.trust import TrustStore  # noqa: E402

CONNECTIONS = 16
WORKERS = 2
TARGET_RATIO = 0.7
TARGET_P99_MS = 20.0
TARGET_PARTNERS_RATIO = 0.9


# --- fake cities ----------------------------------------------------------------------------


@dataclass
class City:
    code: str
    root: Any
    signing: Any
    docs: dict[str, bytes]
    prefix: str


def _city_code(i: int) -> str:
    # UN/LOCODE shape: two letters, space, three of [A-Z2-9]; unique per i below 32**3.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "ZZ " + "".join(alphabet[(i >> s) & 31] for s in (10, 5, 0))


def make_city(i: int, base_url: str, now: datetime) -> City:
    code = _city_code(i)
    root, signing = generate_key(), generate_key()
    prefix = f"/c{i}/.well-known/citycard"
    status = StatusList(MIN_STATUS_LIST_SIZE, 2)
    for j in range(0, MIN_STATUS_LIST_SIZE, 97):  # about 1% revoked, as in a real list
        status.set(j, 1)
    docs = published_documents(
        code=code,
        names={"en": f"City {i}", "fr": f"Ville {i}"},
        root=root,
        signing_key=signing,
        statuses=status,
        base_url=base_url,
        prefix=prefix,
        now=now,
        key_not_before=now - timedelta(days=30),
    )
    return City(code=code, root=root, signing=signing, docs=docs, prefix=prefix)


def card_for(city: City, now: datetime) -> str:
    text, _ = signed_card(
        issuer=city.code,
        signing_key=city.signing,
        now=now,
        expires_at=now + timedelta(days=1000),
        status_index=12_345,  # not a multiple of 97: valid
        holder_name="Amina Haddad",
        birth_date=date(1990, 4, 2),
    )
    return text


def serve(docs: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = docs.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def build_instance(folder: Path, cities: list[City], base_url: str, now: datetime) -> None:
    store = TrustStore(folder)
    fetch = HttpFetcher(timeout=10, retries=0)
    for city in cities:
        _record, report = add_partner(
            store,
            metadata_url=f"{base_url}{city.prefix}/issuer",
            pinned_fingerprint=fingerprint(city.root),
            now=now,
            fetch=fetch,
        )
        if not report.ok:
            raise SystemExit(f"sync of {city.code} failed: {report.errors}")


# --- the server and the load ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_gunicorn(
    instance: Path, storage: str, *, workers: int = WORKERS, under: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[bytes], str]:
    """The verifier under gunicorn in production mode; ``under`` prefixes the command (valgrind).

    Production refuses per-process (memory://) rate-limit counts, so a memory:// run, kept to
    compare the two storages, is the same configuration in development mode.
    """
    port = free_port()
    env = dict(
        os.environ,
        VERIFIER_RATELIMIT_STORAGE_URI=storage,
        VERIFIER_ENV="development" if storage.startswith("memory://") else "production",
        VERIFIER_SECRET_KEY=secrets.token_hex(32),
        VERIFIER_INSTANCE_PATH=str(instance),
        VERIFIER_RATELIMIT_API="1000000000 per minute",
        VERIFIER_BIND=f"127.0.0.1:{port}",
        VERIFIER_WORKERS=str(workers),
        VERIFIER_LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT),
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            *under,
            str(gunicorn),
            "--config",
            str(ROOT / "config" / "verifier.gunicorn.conf.py"),
            "verifier:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL if under else None,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + (180 if under else 30)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise SystemExit("gunicorn did not start")
    return process, url


def check_answer(url: str, text: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{url}/api/v1/verify",
        data=json.dumps({"qr": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    if body["result"] != "valid":
        raise SystemExit(f"the benchmark card does not verify as valid: {body['result']}")


@dataclass
class Round:
    rate: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms: float = 0.0  # server CPU (all workers) per request


_TICK = os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(master: int) -> float:
    """User + system CPU of gunicorn's master and its workers so far.

    CPU per request is what the rate ratio converges to on an idle machine, and unlike the
    rate it barely moves when other processes compete for the cores.
    """
    pids = [master]
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        pids += [int(pid) for pid in children]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, *, duration: int, script: Path | None, master: int | None = None) -> Round:
    cpu_before = server_cpu_seconds(master) if master else 0.0
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        # read errors are gunicorn sync workers closing each connection after its response,
        # which wrk counts when it races a new request onto the closing socket; the others
        # are real failures.
        errors += int(sock.group(1)) + int(sock.group(3)) + int(sock.group(4))
    cpu = (server_cpu_seconds(master) - cpu_before) if master else 0.0
    return Round(
        rate=rate,
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        errors=errors,
        requests=requests,
        cpu_ms=1000 * cpu / max(requests, 1),
    )


def ed25519_verify_ms() -> tuple[float, float]:
    """One bare Ed25519 signature check on this machine, now, by OpenSSL and by libsodium.

    The second is the floor of verify's extra cost: the verifier checks with libsodium.
    """
    import timeit

    from cardformat import public_key_bytes
    from verifier.ed25519 import SodiumPublicKey

    key = generate_key()
    message = bytes(200)
    signature = key.sign(message)
    runs = 500

    def best_ms(check: Any) -> float:
        rounds = timeit.repeat(lambda: check.verify(signature, message), number=runs, repeat=5)
        return 1000 * min(rounds) / runs

    return best_ms(key.public_key()), best_ms(SodiumPublicKey(public_key_bytes(key)))


def instructions_per_request(
    instance: Path, card: str, *, requests: int, storage: str
) -> dict[str, int]:
    """User-space CPU instructions per request in one gunicorn worker (valgrind's callgrind).

    Rates and CPU times move with whatever else the host runs; instruction counts do not, so
    this is the figure for comparing two versions of the code. It leaves out the kernel's
    share (accepting and closing connections), which both endpoints pay alike. Each side is
    measured twice and the lower count kept: the first batch after start-up pays one-off costs.
    """
    dumps = instance.parent / "callgrind"
    dumps.mkdir(exist_ok=True)
    valgrind = (
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={dumps}/worker.%p",
    )
    process, url = start_gunicorn(instance, storage, workers=1, under=valgrind)
    try:
        send = {
            "ping": lambda: _get(f"{url}/api/v1/ping"),
            "verify": lambda: check_answer(url, card),
        }
        for side in send.values():  # imports, first trust-store load, caches
            for _ in range(30):
                side()
        master = process.pid  # valgrind runs gunicorn in its own process, and the worker too
        worker = int(Path(f"/proc/{master}/task/{master}/children").read_text().split()[0])
        counts: dict[str, int] = {}
        for batch, side in enumerate(("ping", "verify") * 2):
            _callgrind_control("--zero", worker)
            for _ in range(requests):
                send[side]()
            _callgrind_control(f"--dump={side}", worker)
            dump = dumps / f"worker.{worker}.{batch + 1}"
            while not dump.exists():
                time.sleep(0.1)
            total = int(re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.M).group(1))  # type: ignore[union-attr]
            per_request = total // requests
            counts[side] = min(counts.get(side, per_request), per_request)
        return counts
    finally:
        process.terminate()
        process.wait(timeout=60)


def _callgrind_control(command: str, pid: int) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True)


def _get(url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()


def verify_script(folder: Path, text: str) -> Path:
    body = json.dumps({"qr": text})
    path = folder / "verify.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.path = "/api/v1/verify"\n'
    )
    return path


def summary(rounds: list[Round]) -> Round:
    return Round(
        rate=statistics.median(r.rate for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        errors=sum(r.errors for r in rounds),
        requests=sum(r.requests for r in rounds),
        cpu_ms=statistics.median(r.cpu_ms for r in rounds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count CPU instructions per request over N requests of each (needs valgrind)",
    )
    parser.add_argument(
        "--ratelimit-storage",
        default="memory://",
        help="VERIFIER_RATELIMIT_STORAGE_URI for the servers (e.g. redis://127.0.0.1:6379)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2

    now = datetime.now(UTC)
    docs: dict[str, bytes] = {}
    server, base_url = serve(docs)
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        count = max(1, args.partners)
        print(f"building {count} fake cities...", flush=True)
        cities = [make_city(i, base_url, now) for i in range(count)]
        for city in cities:
            docs.update(city.docs)
        target = cities[len(cities) // 2]
        card = card_for(target, now)

        one = work / "one"
        build_instance(one, [target], base_url, now)
        process, url = start_gunicorn(one, args.ratelimit_storage)
        processes.append(process)
        check_answer(url, card)
        script = verify_script(work, card)

        many_url = None
        if args.partners > 1:
            many = work / "many"
            started = time.monotonic()
            build_instance(many, cities, base_url, now)
            print(f"pinned and synced {count} cities in {time.monotonic() - started:.1f} s")
            # A routine sync of every partner (metadata and lists fetched and verified again).
            started = time.monotonic()
            reports = sync_partners(
                TrustStore(many), now=now, fetch=HttpFetcher(timeout=10, retries=0)
            )
            if not all(report.ok for report in reports):
                raise SystemExit("the sync of the many-partner store failed")
            print(
                f"verifier sync of {count} partners on loopback: {time.monotonic() - started:.1f} s"
            )
            process, many_url = start_gunicorn(many, args.ratelimit_storage)
            processes.append(process)
            check_answer(many_url, card)

        # Warm-up: imports, first trust-store load in each worker, connection setup.
        run_wrk(f"{url}/api/v1/ping", duration=2, script=None)
        run_wrk(url, duration=2, script=script)
        if many_url:
            run_wrk(many_url, duration=2, script=script)

        ping_rounds: list[Round] = []
        verify_rounds: list[Round] = []
        many_rounds: list[Round] = []
        one_pid = processes[0].pid
        many_pid = processes[-1].pid
        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds}", flush=True)
            ping_rounds.append(
                run_wrk(f"{url}/api/v1/ping", duration=args.duration, script=None, master=one_pid)
            )
            verify_rounds.append(
                run_wrk(url, duration=args.duration, script=script, master=one_pid)
            )
            if many_url:
                many_rounds.append(
                    run_wrk(many_url, duration=args.duration, script=script, master=many_pid)
                )

        ping, verify = summary(ping_rounds), summary(verify_rounds)
        # Each verify round is compared with the ping round just before it, so a burst of
        # load from elsewhere on the machine mostly hits both sides of one pair.
        ratio = statistics.median(
            v.rate / p.rate for p, v in zip(ping_rounds, verify_rounds, strict=True)
        )
        cpu_ratio = ping.cpu_ms / verify.cpu_ms if verify.cpu_ms else float("nan")
        print()
        print(
            f"gunicorn {WORKERS} sync workers, wrk {CONNECTIONS} connections, "
            f"{args.rounds} x {args.duration} s rounds, medians"
        )
        for label, side in (("GET  /api/v1/ping  ", ping), ("POST /api/v1/verify", verify)):
            print(
                f"{label} {side.rate:8.0f} req/s  p99 {side.p99_ms:7.2f} ms  "
                f"server CPU {side.cpu_ms:.3f} ms/req  errors {side.errors}"
            )
        for i, (p, v) in enumerate(zip(ping_rounds, verify_rounds, strict=True)):
            print(
                f"  round {i + 1}: ping {p.rate:.0f} req/s ({p.cpu_ms:.3f} ms CPU), "
                f"verify {v.rate:.0f} req/s ({v.cpu_ms:.3f} ms CPU), ratio {v.rate / p.rate:.2f}"
            )
        openssl, sodium = ed25519_verify_ms()
        print(
            f"one Ed25519 verification alone: OpenSSL {openssl:.3f} ms, libsodium {sodium:.3f} ms "
            f"(the verifier's); best possible CPU ratio with a free parser and framework: "
            f"{ping.cpu_ms / (ping.cpu_ms + sodium):.2f}"
        )
        ok = True
        line = f"verify/ping rate ratio: {ratio:.2f} (target >= {TARGET_RATIO})"
        ok &= ratio >= TARGET_RATIO
        print(line)
        print(
            f"server CPU per request, ping/verify: {cpu_ratio:.2f} "
            "(the rate ratio an idle machine would show)"
        )
        print(f"verify p99: {verify.p99_ms:.2f} ms (target <= {TARGET_P99_MS})")
        ok &= verify.p99_ms <= TARGET_P99_MS
        print(f"errors: {verify.errors + ping.errors} (target 0)")
        ok &= verify.errors + ping.errors == 0
        if many_rounds:
            many_summary = summary(many_rounds)
            partners_ratio = statistics.median(
                m.rate / v.rate for v, m in zip(verify_rounds, many_rounds, strict=True)
            )
            print(
                f"POST /api/v1/verify with {count} partners: {many_summary.rate:.0f} req/s, "
                f"p99 {many_summary.p99_ms:.2f} ms, server CPU {many_summary.cpu_ms:.3f} "
                f"ms/req, errors {many_summary.errors}"
            )
            print(
                f"{count} partners / 1 partner rate ratio: {partners_ratio:.2f} "
                f"(target >= {TARGET_PARTNERS_RATIO}); server CPU per request, "
                f"1 partner/{count}: {verify.cpu_ms / many_summary.cpu_ms:.2f}"
            )
            ok &= partners_ratio >= TARGET_PARTNERS_RATIO and many_summary.errors == 0
        if args.instructions:
            counts = instructions_per_request(
                one, card, requests=args.instructions, storage=args.ratelimit_storage
            )
            print(
                f"instructions per request in one worker (callgrind, {args.instructions} "
                f"requests each): ping {counts['ping']:,}, verify {counts['verify']:,}, "
                f"ratio {counts['ping'] / counts['verify']:.3f}"
            )
        print("all targets met" if ok else "SOME TARGETS MISSED")
        return 0 if ok else 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
