"""`verifier sync --every` as `make run` runs it (scripts/demo.py): a revocation published by the
issuer reaches the verifier's answers within 15 s (issue 16).

The sync runs as a real process, on the real clock, against a fake city served over HTTP; the
verifier app reloads the synced store as production does (at most once a second).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardformat import Status
from scripts.demo import SYNC_SECONDS

from .helpers import pin, verify

DEADLINE_SECONDS = 15


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_a_revocation_reaches_the_verifier_within_15_seconds(
    serve_issuer: Any, app_factory: Any, instance: Path
) -> None:
    city = serve_issuer()
    city.publish(_now())
    app = app_factory(CLOCK=_now, TRUST_RELOAD_INTERVAL=1)
    runner = app.test_cli_runner()
    pinned = pin(runner, city)
    assert pinned.exit_code == 0, pinned.output
    client = app.test_client()
    text, card = city.card(now=_now())
    assert verify(client, text)["result"] == "valid"

    script = Path(sys.executable).with_name("verifier")
    env = dict(os.environ, VERIFIER_ENV="development", VERIFIER_INSTANCE_PATH=str(instance))
    syncing = subprocess.Popen(
        [str(script), "sync", "--every", str(SYNC_SECONDS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Revoke just after a round has written the store: the worst case, a whole interval
        # before the next round.
        store = app.extensions["verifier"].store
        before = store.identity()
        started = time.monotonic()
        while store.identity() == before and time.monotonic() - started < 30:
            time.sleep(0.05)
        assert store.identity() != before, "the first sync round never wrote the store"
        city.set_status(card.status_index, Status.REVOKED)
        city.publish(_now())
        revoked_at = time.monotonic()
        result = "valid"
        while result != "revoked" and time.monotonic() - revoked_at < DEADLINE_SECONDS + 5:
            time.sleep(0.25)
            result = verify(client, text)["result"]
        elapsed = time.monotonic() - revoked_at
        print(
            f"revocation seen by the verifier after {elapsed:.1f} s (sync every {SYNC_SECONDS} s)"
        )
        assert result == "revoked"
        assert elapsed <= DEADLINE_SECONDS
        assert syncing.poll() is None  # still running, for the next one
    finally:
        syncing.terminate()
        _, errors = syncing.communicate(timeout=10)
    assert b"Traceback" not in errors
