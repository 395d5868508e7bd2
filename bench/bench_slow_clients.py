"""Slow clients against the reference stack: do the apps keep answering?

Run from the repository root: ``python bench/bench_slow_clients.py`` (starts the stack with
scripts/stack.py, so it needs the PostgreSQL and Redis servers that the stack uses; see there).
Options: ``--clients N`` slow clients per app (default 20), ``--seconds S`` they last (default
12), ``--requests N`` normal requests per app and phase (default 30), ``--direct`` to repeat the
slow phase against the apps' own ports, without nginx in front, for comparison (10 requests
per app and phase there: a starved app costs 5 s a request).

What it does, all on the loopback interface:
1. measures normal requests (the counter's sign-in page; the verifier's agent page and
   POST /api/v1/verify, alternately), each on a new TLS connection through nginx: p50 and p95;
2. opens N connections to each app that send a POST's headers and then its body at 1 byte per
   second (to the counter's sign-in form and to the verifier's /api/v1/verify), and measures the
   same normal requests while they trickle;
3. reports p95 per app with and without the slow clients (target: under 1 s with them), and how
   many slow connections were still open at the end (all of them, or the load was not there).

tests/stack/test_slow_clients.py runs the same functions, bounded, in the stack suite.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import ssl
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# A POST body that is never finished in time: the slow clients stop (and close) first.
SLOW_BODY_LENGTH = 4000


@dataclass(frozen=True)
class Target:
    """One app as a client sees it: host, port and the TLS context that trusts the stack."""

    host: str
    port: int
    context: ssl.SSLContext | None

    def connect(self, timeout: float) -> socket.socket:
        raw = socket.create_connection((self.host, self.port), timeout=timeout)
        if self.context is None:
            return raw
        return self.context.wrap_socket(raw, server_hostname=self.host)


class SlowClients:
    """N connections sending a POST body at 1 byte per second, for at most ``seconds``."""

    def __init__(self, target: Target, path: str, content_type: str, count: int, seconds: float):
        self.target, self.path, self.content_type = target, path, content_type
        self.count, self.seconds = count, seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.open = 0  # connections currently trickling
        self.started = 0

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + 10
        while self.started < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        try:
            sock = self.target.connect(timeout=5)
        except OSError:
            with self._lock:
                self.started += 1
            return
        with sock:
            head = (
                f"POST {self.path} HTTP/1.1\r\nHost: {self.target.host}:{self.target.port}\r\n"
                f"Content-Type: {self.content_type}\r\nContent-Length: {SLOW_BODY_LENGTH}\r\n\r\n"
            )
            try:
                sock.sendall(head.encode())
            except OSError:
                with self._lock:
                    self.started += 1
                return
            with self._lock:
                self.started += 1
                self.open += 1
            deadline = time.monotonic() + self.seconds
            try:
                while time.monotonic() < deadline and not self._stop.wait(1.0):
                    sock.sendall(b"x")
            except OSError:
                pass  # the server gave up on us: no longer open
            finally:
                with self._lock:
                    self.open -= 1


def timed_requests(
    target: Target,
    requests: list[tuple[str, str, bytes | None]],
    window: float = 0.0,
    timeout: float = 5.0,
) -> list[float]:
    """Seconds per request, each on a new connection (a timeout counts as ``timeout``), spread
    evenly over ``window`` seconds."""
    times: list[float] = []
    begin = time.monotonic()
    for index, (method, path, body) in enumerate(requests):
        time.sleep(max(0.0, begin + index * window / len(requests) - time.monotonic()))
        started = time.monotonic()
        connection: http.client.HTTPConnection
        if target.context is None:
            connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        else:
            connection = http.client.HTTPSConnection(
                target.host, target.port, timeout=timeout, context=target.context
            )
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status >= 500:
                raise AssertionError(f"{method} {path}: {response.status}")
            times.append(time.monotonic() - started)
        except (TimeoutError, OSError):
            times.append(timeout)
        finally:
            connection.close()
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def counter_requests(count: int) -> list[tuple[str, str, bytes | None]]:
    return [("GET", "/login", None)] * count


def verifier_requests(count: int) -> list[tuple[str, str, bytes | None]]:
    # Half of them verifications (a code that is no card: the answer is "malformed", through
    # the whole verify path), half the agent page: a normal agent's traffic, and below the
    # verifier's per-address rate limit.
    verify = ("POST", "/api/v1/verify", b'{"qr": "MC1:NOT-A-CARD"}')
    page = ("GET", "/", None)
    return [verify if i % 2 else page for i in range(count)]


@dataclass
class Figures:
    counter_alone: list[float]
    verifier_alone: list[float]
    counter_slow: list[float]
    verifier_slow: list[float]
    slow_open_at_end: tuple[int, int]

    def table(self) -> str:
        def row(name: str, times: list[float]) -> str:
            return (
                f"{name:<34} n={len(times):<3} p50 {statistics.median(times) * 1000:7.1f} ms"
                f"   p95 {p95(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms"
            )

        return "\n".join(
            [
                row("counter, alone", self.counter_alone),
                row("counter, with slow clients", self.counter_slow),
                row("verifier, alone", self.verifier_alone),
                row("verifier, with slow clients", self.verifier_slow),
                f"slow connections still open at the end: counter {self.slow_open_at_end[0]}, "
                f"verifier {self.slow_open_at_end[1]}",
            ]
        )


def measure(
    counter: Target,
    verifier: Target,
    *,
    clients: int = 20,
    seconds: float = 12,
    requests: int = 30,
) -> Figures:
    """Normal requests to both apps, first alone, then while ``clients`` slow clients per app
    trickle their bodies (bounded: every slow client stops after ``seconds``). In both phases the
    requests are spread over the same window, most of the slow clients' lifetime."""
    window = max(1.0, seconds - 3)

    def both() -> dict[str, list[float]]:
        results: dict[str, list[float]] = {}
        jobs: list[tuple[str, Callable[[], list[float]]]] = [
            ("counter", lambda: timed_requests(counter, counter_requests(requests), window)),
            ("verifier", lambda: timed_requests(verifier, verifier_requests(requests), window)),
        ]
        threads = [
            threading.Thread(target=lambda n=name, j=job: results.__setitem__(n, j()))
            for name, job in jobs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    alone = both()
    slow_counter = SlowClients(
        counter, "/login", "application/x-www-form-urlencoded", clients, seconds
    )
    slow_verifier = SlowClients(verifier, "/api/v1/verify", "application/json", clients, seconds)
    with slow_counter, slow_verifier:
        time.sleep(1.5)  # every slow client has sent its headers and a byte or two
        slow = both()
        still_open = (slow_counter.open, slow_verifier.open)
    return Figures(
        alone["counter"], alone["verifier"], slow["counter"], slow["verifier"], still_open
    )


def main() -> int:
    from scripts.stack import Stack

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--direct", action="store_true")
    args = parser.parse_args()
    stack = Stack().up()
    try:
        context = stack.ssl_context()
        figures = measure(
            Target(stack.host, stack.https_port, context),
            Target(stack.host, stack.verifier_port, context),
            clients=args.clients,
            seconds=args.seconds,
            requests=args.requests,
        )
        print(f"Through nginx ({args.clients} slow clients per app, 1 byte/s):")
        print(figures.table())
        if args.direct:
            direct = measure(
                Target(stack.host, stack.app_ports[0], None),
                Target(stack.host, stack.verifier_app_port, None),
                clients=args.clients,
                seconds=args.seconds,
                # A starved app times out at 5 s a request: fewer of them keep the run short.
                requests=min(args.requests, 10),
            )
            print("\nWithout nginx (the apps' own ports; a timed-out request counts 5 s):")
            print(direct.table())
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
