"""Database connections terminated under load (pg_terminate_backend): never a 500.

Runs last: it leaves both instances' connection pools full of connections it has ended.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import text

from .conftest import Stack, Tally, enrol

LOAD_THREADS = 6


def test_connections_terminated_mid_load_never_give_a_500(stack: Stack) -> None:
    """PostgreSQL ends the app's sessions (a failover, an operator's pg_terminate_backend)
    while both instances serve reads and writes: a 503 or a retry, never a 500."""
    tally = Tally()
    stop = threading.Event()
    terminated = [0]
    urls = [instance.url for instance in stack.instances]
    databases = [stack.database.url.database, stack.keystore.url.database]

    def load(worker: int) -> None:
        http = stack.api(stack.tokens["clerk"])
        n = 0
        while not stop.is_set():
            url = urls[(worker + n) % 2]
            n += 1
            try:
                if n % 3 == 0:
                    enrol(http, url, tally)
                else:
                    tally.add(http.get(f"{url}/.well-known/citycard/status/0", timeout=60))
            except requests.ConnectionError as exc:
                tally.failures.append(type(exc).__name__)

    def terminate() -> None:
        for _ in range(6):
            time.sleep(1.0)
            with stack.database.connect() as connection:
                terminated[0] += len(
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = ANY(:dbs) AND pid <> pg_backend_pid()"
                        ),
                        {"dbs": databases},
                    ).all()
                )
                connection.commit()
        stop.set()

    with ThreadPoolExecutor(LOAD_THREADS + 1) as pool:
        futures = [pool.submit(load, w) for w in range(LOAD_THREADS)] + [pool.submit(terminate)]
        for future in futures:
            future.result()
    errors_500 = tally.count(lambda s: s == 500)
    print(
        f"\nconnections terminated {terminated[0]}, responses {len(tally.statuses)}, "
        f"500: {errors_500}, 503: {tally.count(lambda s: s == 503)}, "
        f"no answer: {len(tally.failures)}"
    )
    assert terminated[0] > 0
    assert errors_500 == 0
    assert not tally.failures
