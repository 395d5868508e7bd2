"""What the argon2id-sealed keys (cardservice/services/keyseal.py) cost, measured in one run.

1. One key derivation: argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1), in ms.
2. Opening a stored key: the first time in a process (derivation + AES-GCM), then from the
   sealer's cache; and the older PKCS#8 form (PBKDF2, 2,048 iterations) for comparison.
3. Issue latency through the service (issue_card: sign a card with the active key, on SQLite),
   with the keys in the PKCS#8 form as before this change, and sealed: the counter must not pay a
   derivation per card.

Usage: .venv/bin/python bench/bench_keyseal.py [--derivations 7] [--issues 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_counter import _make_app, setup_city  # noqa: E402

PASSPHRASE = b"stapler-Quokka-81-marimba-Vexing"


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:.3f} ms, p95 {p95 * 1000:.3f} ms, "
        f"min {ordered[0] * 1000:.3f} ms, max {ordered[-1] * 1000:.3f} ms (n={len(ordered)})"
    )


def bench_derivation(count: int) -> None:
    import cardformat
    from cardservice.services.keyseal import KdfParams, KeySealer

    params = KdfParams.fresh()
    sealed = KeySealer(PASSPHRASE).seal(cardformat.generate_key(), params)
    derivations, cached = [], []
    for _ in range(count):
        sealer = KeySealer(PASSPHRASE)  # a new process: nothing derived yet
        start = time.perf_counter()
        sealer.open(sealed)
        derivations.append(time.perf_counter() - start)
        start = time.perf_counter()
        sealer.open(sealed)
        cached.append(time.perf_counter() - start)
    pem = cardformat.dump_private_key(cardformat.generate_key(), PASSPHRASE)
    legacy = []
    for _ in range(count):
        start = time.perf_counter()
        cardformat.load_private_key(pem, PASSPHRASE)
        legacy.append(time.perf_counter() - start)
    print(f"first open of a sealed key (argon2id + AES-GCM): {_ms(derivations)}")
    print(f"later opens (cached in the process):             {_ms(cached)}")
    print(f"open of a PKCS#8 key (PBKDF2, 2,048 iterations): {_ms(legacy)}")


def _to_legacy(app: Any) -> None:
    """The keys as they were stored before this change (PKCS#8 PEM, PBKDF2)."""
    from sqlalchemy import select

    import cardformat
    from cardservice.extensions import db
    from cardservice.models import City, SigningKey
    from cardservice.services import deps

    with app.app_context():
        sealer = deps(app).key_sealer
        passphrase = deps(app).key_passphrase
        city = db.session.scalars(select(City)).one()
        city.root_private_key_pem = cardformat.dump_private_key(
            sealer.open(city.root_private_key_pem), passphrase
        )
        for key in db.session.scalars(select(SigningKey)):
            key.private_key_pem = cardformat.dump_private_key(
                sealer.open(key.private_key_pem), passphrase
            )
        db.session.commit()
        db.session.remove()


def bench_issue(apps: dict[str, Any], count: int) -> None:
    """Issue `count` cards in each app, alternating between them card by card, so that both
    see the same load on a shared machine."""
    from dataclasses import replace

    from cardservice.extensions import db
    from cardservice.services import Actor, deps
    from cardservice.services.cards import issue_card
    from cardservice.services.keyseal import KeySealer
    from cardservice.services.residents import enrol_resident
    from tests.integration.cardservice.conftest import enrolment

    actor = Actor.system("bench")
    now = datetime.now(UTC)
    fresh: dict[str, Any] = {}
    ids: dict[str, list[str]] = {}
    for label, app in apps.items():
        with app.app_context():
            # A sealer with nothing derived or opened, as in a worker that has just started.
            fresh[label] = replace(deps(app), key_sealer=KeySealer(deps(app).key_passphrase))
            ids[label] = [
                enrol_resident(
                    db.session,
                    fresh[label],
                    enrolment(),
                    now=now,
                    actor=actor,
                    confirm_duplicate=True,  # the same sample resident, many times
                ).resident_id
                for _ in range(count + 1)
            ]
            db.session.remove()
    times: dict[str, list[float]] = {label: [] for label in apps}
    for index in range(count + 1):
        for label, app in apps.items():
            with app.app_context():
                start = time.perf_counter()
                issue_card(db.session, fresh[label], ids[label][index], now=now, actor=actor)
                times[label].append(time.perf_counter() - start)
                db.session.remove()
    for label, measured in times.items():
        print(f"issue, keys {label}: first {measured[0] * 1000:.1f} ms; then {_ms(measured[1:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--derivations", type=int, default=7)
    parser.add_argument("--issues", type=int, default=200)
    args = parser.parse_args()
    os.environ["CARDSERVICE_ENV"] = "testing"
    os.environ["CARDSERVICE_KEY_PASSPHRASE"] = PASSPHRASE.decode()
    bench_derivation(args.derivations)
    with tempfile.TemporaryDirectory() as folder:
        legacy_app = _make_app(Path(folder) / "legacy")
        setup_city(legacy_app)
        _to_legacy(legacy_app)
        app = _make_app(Path(folder) / "sealed")
        setup_city(app)
        bench_issue(
            {"in PKCS#8 (before)": legacy_app, "sealed with argon2id (after)": app}, args.issues
        )


if __name__ == "__main__":
    main()
