"""Privacy benchmarks of the issuance service (issue 6), measured in one run on this machine.

1. Encryption's share of the counter flow (enrol with a photo, issue, render the card PDF
   through the JSON API): every step of encryption at rest is timed inside the flow (sealing and
   opening the AES-GCM record, wrapping and unwrapping the data key, the HMAC blind index, and
   reading and storing wrapped keys in the data-key store: bench_counter.encryption_timer), and
   its share of the flow's wall time is reported (target: <= 10%). With --hsm the
   same flow runs a second time with the master key in a SoftHSM2 token (PKCS#11), so the cost
   of a round trip to a hardware module per enrolment is visible too.
2. Master-key rotation: `keys rewrap` of N residents (only the wrapped keys, in the data-key
   store, change).
3. On SQLite: what a key-store commit costs in rollback-journal and in WAL mode.
4. With --erase N: the emergency purge of N residents at once, reusing bench_counter's
   benchmark (target: 100,000 in <= 30 s), on SQLite or, with --postgres URL, on PostgreSQL.

Usage: .venv/bin/python bench/bench_privacy.py [--flow N] [--rewrap N] [--hsm] [--erase N]
                                               [--postgres URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_counter import (  # noqa: E402
    _make_app,
    _pct,
    bench_erase,
    create_schemas,
    drop_schemas,
    run_counter_flows,
    sealed_resident_row,
    setup_city,
)

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
)


def bench_flow(app: Any, iterations: int, label: str) -> None:
    times = run_counter_flows(app, setup_city(app), iterations)
    flows, crypto = times.steps["flow"], times.encryption
    shares = [c / f for c, f in zip(crypto, flows, strict=True)]
    share = sum(crypto) / sum(flows) * 100
    print(f"Counter flow with {label}, {iterations} residents (enrol + issue + PDF)")
    print(f"  flow p50 = {_pct(flows, 0.5) * 1000:.1f} ms, p95 = {_pct(flows, 0.95) * 1000:.1f} ms")
    print(
        "  encryption (cipher + data-key store) per flow: "
        f"p50 = {_pct(crypto, 0.5) * 1000:.2f} ms, p95 = {_pct(crypto, 0.95) * 1000:.2f} ms"
    )
    print(
        f"  encryption share of the flow = {share:.2f}% overall, "
        f"{statistics.mean(shares) * 100:.2f}% mean per flow, "
        f"{_pct(shares, 0.95) * 100:.2f}% p95 (target <= 10%): "
        f"{'OK' if share <= 10 else 'OVER TARGET'}"
    )


def bench_rewrap(app: Any, count: int, new_app: Callable[[], Any]) -> None:
    """Seed `count` residents under the current master key, then rewrap under a new one."""
    from sqlalchemy import insert

    from cardservice.extensions import db
    from cardservice.models import Resident, ResidentKey
    from cardservice.services import Actor, deps
    from cardservice.services.residents import rewrap_data_keys

    now = datetime.now(UTC)
    with app.app_context():
        d = deps()
        for offset in range(0, count, 5000):
            rows, keys = [], []
            for i in range(offset, min(count, offset + 5000)):
                rid = secrets.token_hex(16)
                resident, key = sealed_resident_row(d.cipher, rid, f"Rewrap {i}", None, now)
                rows.append(resident)
                keys.append(key)
            db.session.execute(insert(ResidentKey), keys)
            db.session.commit()
            db.session.execute(insert(Resident), rows)
            db.session.commit()
        db.session.remove()
    rotating = new_app()
    with rotating.app_context():
        start = time.perf_counter()
        total = rewrap_data_keys(db.session, deps(), now=now, actor=Actor.system("bench"))
        elapsed = time.perf_counter() - start
        db.session.remove()
    print(
        f"Master-key rotation: {total} data keys re-wrapped in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} per second; records untouched)"
    )


def _softhsm(folder: Path) -> dict[str, str] | None:
    module = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
    if module is None or shutil.which("softhsm2-util") is None:
        print("softhsm2 is not installed: skipping the PKCS#11 run (apt-get install softhsm2)")
        return None
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "bench"),
            *("--pin", "1234-bench", "--so-pin", "5678-bench"),
        ],
        check=True,
        capture_output=True,
    )
    from cardservice.services.hsm import Pkcs11MasterKeyProvider

    for label in ("master-a", "master-b"):
        Pkcs11MasterKeyProvider.create_master_key(
            module=module, token_label="bench", pin="1234-bench", key_label=label
        )
    return {"module": module, "token": "bench", "pin": "1234-bench"}


def _use_hsm(hsm: dict[str, str], label: str, previous: str = "") -> None:
    os.environ.update(
        CARDSERVICE_PKCS11_MODULE=hsm["module"],
        CARDSERVICE_PKCS11_TOKEN_LABEL=hsm["token"],
        CARDSERVICE_PKCS11_PIN=hsm["pin"],
        CARDSERVICE_PKCS11_KEY_LABEL=label,
        CARDSERVICE_PKCS11_PREVIOUS_KEY_LABELS=previous,
    )


def _rotated_local(instance: Path, postgres: str | None, schema: str) -> Callable[[], Any]:
    def build() -> Any:
        old = (instance / "secrets" / "master_key").read_text().strip()
        os.environ["CARDSERVICE_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
        os.environ["CARDSERVICE_PREVIOUS_MASTER_KEYS"] = old
        return _make_app(instance, postgres, schema)

    return build


def bench_key_commit(folder: Path, count: int = 300) -> None:
    """What one enrolment's key commit costs an SQLite key store on this disk, in the rollback
    journal mode and in the write-ahead-log mode models.keystore uses (secure_delete on, as in
    the app): why the key store runs in WAL mode."""
    import sqlite3

    print(f"SQLite key-store commit, {count} keys inserted and committed one by one:")
    for mode in ("DELETE", "WAL"):
        connection = sqlite3.connect(folder / f"keys-{mode.lower()}.sqlite3", isolation_level=None)
        connection.execute(f"PRAGMA journal_mode = {mode}")
        connection.execute("PRAGMA secure_delete = ON")
        connection.execute("CREATE TABLE resident_key (resident_id TEXT PRIMARY KEY, key BLOB)")
        start = time.perf_counter()
        for _ in range(count):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO resident_key VALUES (?, ?)", (secrets.token_hex(16), os.urandom(60))
            )
            connection.execute("COMMIT")
        elapsed = (time.perf_counter() - start) / count
        connection.close()
        print(f"  journal_mode={mode:<6} {elapsed * 1000:.2f} ms per key")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", type=int, default=200, help="counter flows to time")
    parser.add_argument("--rewrap", type=int, default=20_000, help="residents to re-wrap")
    parser.add_argument("--hsm", action="store_true", help="also run with SoftHSM2 (PKCS#11)")
    parser.add_argument("--erase", type=int, default=0, help="residents in the purge bench")
    parser.add_argument("--postgres", default=None, help="run on this PostgreSQL database")
    args = parser.parse_args()
    os.environ["CARDSERVICE_ENV"] = "development"
    for name in [n for n in os.environ if n.startswith("CARDSERVICE_PKCS11_")]:
        del os.environ[name]
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}, "
        f"database: {'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    runs: list[tuple[str, dict[str, str] | None]] = [("a local master key (AES-GCM)", None)]
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        if not args.postgres:
            bench_key_commit(Path(tmp))
        if args.hsm:
            hsm = _softhsm(Path(tmp))
            if hsm is not None:
                runs.append(("the master key in SoftHSM2 (PKCS#11 AES-GCM)", hsm))
        for number, (label, hsm_settings) in enumerate(runs):
            schema = f"bench_privacy_{os.getpid()}_{number}"
            if args.postgres:
                create_schemas(args.postgres, schema)
            instance = Path(tmp) / f"instance-{number}"
            instance.mkdir()
            try:
                if hsm_settings:
                    _use_hsm(hsm_settings, "master-a")
                app = _make_app(instance, args.postgres, schema)
                bench_flow(app, args.flow, label)
                if args.erase and number == 0:
                    bench_erase(app, args.erase)
                if args.rewrap:
                    if hsm_settings:

                        def rotated(
                            settings: dict[str, str] = hsm_settings,
                            folder: Path = instance,
                            schema: str = schema,
                        ) -> Any:
                            _use_hsm(settings, "master-b", "master-a")
                            return _make_app(folder, args.postgres, schema)

                        bench_rewrap(app, args.rewrap, rotated)
                    else:
                        bench_rewrap(
                            app, args.rewrap, _rotated_local(instance, args.postgres, schema)
                        )
                print()
            finally:
                for name in [n for n in os.environ if n.startswith("CARDSERVICE_PKCS11_")]:
                    del os.environ[name]
                os.environ.pop("CARDSERVICE_MASTER_KEY", None)
                os.environ.pop("CARDSERVICE_PREVIOUS_MASTER_KEYS", None)
                if args.postgres:
                    from cardservice.extensions import db

                    with app.app_context():
                        db.session.remove()
                        for bound in db.engines.values():
                            bound.dispose()
                    drop_schemas(args.postgres, schema)


if __name__ == "__main__":
    main()
