"""Slow clients cannot starve the apps: nginx reads whole requests before an app sees them.

20 clients per app send a POST body at 1 byte per second (to the counter's sign-in form and to
the verifier's /api/v1/verify) while normal requests keep coming; both apps must answer them with
a p95 under 1 s. Bounded: loopback only, 20 + 20 connections, every one closed after 12 s. The
same functions print the figures of docs/performance.md (bench/bench_slow_clients.py).
"""

from __future__ import annotations

import pytest

from bench.bench_slow_clients import Target, measure, p95
from scripts.stack import Stack

pytestmark = pytest.mark.stack

CLIENTS = 20


def test_slow_clients_leave_both_apps_answering(stack: Stack) -> None:
    context = stack.ssl_context()
    figures = measure(
        Target(stack.host, stack.https_port, context),
        Target(stack.host, stack.verifier_port, context),
        clients=CLIENTS,
        seconds=12,
        requests=30,
    )
    print(figures.table())
    # The load was there for the whole measurement: no slow client was cut off early.
    assert figures.slow_open_at_end == (CLIENTS, CLIENTS)
    assert p95(figures.counter_slow) < 1.0, figures.table()
    assert p95(figures.verifier_slow) < 1.0, figures.table()
