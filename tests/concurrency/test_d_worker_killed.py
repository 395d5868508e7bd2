"""A worker killed mid-enrolment (SIGKILL): nothing half-written, in records, keys or the log."""

from __future__ import annotations

import base64
import io
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image
from sqlalchemy import text

from .conftest import Stack, Tally, enrol

LOAD_THREADS = 6


def _photo() -> str:
    """A photo large enough that an enrolment spends a while in the worker (resizing)."""
    image = Image.effect_noise((1600, 2000), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode()


def _keys_and_records(stack: Stack) -> tuple[set[str], set[str]]:
    with stack.database.connect() as connection:
        records = set(connection.scalars(text("SELECT id FROM resident")))
    with stack.keystore.connect() as connection:
        keys = set(connection.scalars(text("SELECT resident_id FROM resident_key")))
    return records, keys


def test_worker_killed_mid_enrolment_leaves_nothing_half_written(stack: Stack) -> None:
    instance = stack.instances[0]
    tally = Tally()
    photo = _photo()
    enrolled: list[str] = []
    stop = threading.Event()
    records_before, keys_before = _keys_and_records(stack)

    def load() -> None:
        http = stack.api(stack.tokens["clerk"])
        while not stop.is_set():
            try:
                response = enrol(http, instance.url, tally, photo=photo)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # The worker died with the request: no answer, or half of one.
                tally.failures.append(type(exc).__name__)
                continue
            if response.status_code == 201:
                enrolled.append(response.json()["id"])

    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        futures = [pool.submit(load) for _ in range(LOAD_THREADS)]
        time.sleep(2.0)
        victim = instance.workers()[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(3.0)
        stop.set()
        for future in futures:
            future.result()

    assert tally.failures, "the kill cut no request: nothing was tested"
    assert tally.server_errors == 0, tally.statuses
    records, keys = _keys_and_records(stack)
    new_records, new_keys = records - records_before, keys - keys_before
    # Every answered enrolment is whole; no record lacks its key; a key without a record is
    # the documented leftover of an enrolment cut after the key-store commit.
    assert set(enrolled) <= new_records
    assert new_records <= new_keys
    orphans = new_keys - new_records
    clerk = stack.api(stack.tokens["clerk"])
    for resident_id in enrolled[:20]:
        assert clerk.get(f"{instance.url}/api/v1/residents/{resident_id}", timeout=30).ok
    # The sweep finds no unreadable record; the orphan keys go once past their grace period.
    with stack.keystore.begin() as connection:
        if orphans:
            connection.execute(
                text(
                    "UPDATE resident_key SET created_at = created_at - interval '2 hours' "
                    "WHERE resident_id = ANY(:ids)"
                ),
                {"ids": list(orphans)},
            )
    sweep = stack.cli("keys", "sweep").stdout
    assert (
        f"Sweep: 0 unreadable record(s) without a data key and {len(orphans)} data key(s)" in sweep
    )
    print(
        f"\nworker killed: {len(tally.failures)} enrolments cut, {len(orphans)} orphan keys swept"
    )
    assert "Audit log intact." in stack.cli("audit", "verify").stdout
