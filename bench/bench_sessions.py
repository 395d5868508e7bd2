"""What server-side sessions cost a signed-in request, against Flask's cookie sessions.

The same app, database and page (/account: Flask-Login loads the member, the page reads the
city's name), signed in once per side; the baseline side swaps in Flask's own signed-cookie
session interface (what the counter used before issue #13). Requests alternate in rounds of 50,
side by side; the fastest round of each side is compared (a round another process disturbed is
slower, never faster), and the median rounds as a check.

The steady state is measured: a session is read on every request (one indexed SELECT) and its
last use written at most once a minute, which a benchmark of a few seconds never reaches. The
sign-in itself (a new row, the old one deleted) is measured separately: 20 sign-ins per side.
Device cookies (services/devices.py) are measured on sign-in too: the scheme switched off
(baseline), on for a browser without a cookie (a row written), and on for a browser presenting
its cookie (a row looked up, replaced), in alternating rounds of 10.

Usage: .venv/bin/python bench/bench_sessions.py [--rounds N] [--postgres URL]
SQLite in a temporary instance folder by default; with --postgres (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test) a throw-away schema on that server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUND = 50


def _rate(client: Any, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        response = client.get("/account")
        assert response.status_code == 200, response.status_code
    return count / (time.perf_counter() - start)


def _sign_ins(app: Any, count: int, cookie: list[str] | None = None) -> float:
    """Sign-ins per second, each in a new browser; with `cookie` (a one-item list), each
    browser presents the device cookie the previous sign-in gave."""
    from cardservice.services.devices import COOKIE_NAME
    from tests.integration.counter.support import login

    start = time.perf_counter()
    for _ in range(count):
        client = app.test_client()
        if cookie:
            client.set_cookie(COOKIE_NAME, cookie[0], path="/login")
        assert login(client, "clerk").status_code == 302
        if cookie is not None:
            given = client.get_cookie(COOKIE_NAME, path="/login")
            assert given is not None
            cookie[:] = [given.value]
    return count / (time.perf_counter() - start)


def _migrated(instance: Path, settings: dict[str, Any]) -> Any:
    """An app on a database built by the migrations, with the tests' city and staff."""
    import flask_migrate

    from tests.integration.counter.support import seed_city_and_staff
    from tests.integration.issuance_app import build_app

    app = build_app(instance, **settings)
    with app.app_context():
        flask_migrate.upgrade()
        seed_city_and_staff()
    return app


def run(rounds: int, postgres: str | None) -> None:
    from flask.sessions import SecureCookieSessionInterface

    from tests.integration.counter.support import login
    from tests.integration.issuance_app import build_app, dispose
    from tests.integration.service_fixtures import drop_postgres_settings, postgres_settings

    settings = postgres_settings(postgres, "bench_sessions") if postgres else {}
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        server_app = _migrated(instance, settings)
        cookie_app = build_app(instance, **settings)
        cookie_app.session_interface = SecureCookieSessionInterface()
        no_devices = build_app(
            instance, environ={"CARDSERVICE_DEVICE_COOKIE_DAYS": "0"}, **settings
        )
        try:
            sides = {"server": server_app.test_client(), "cookie": cookie_app.test_client()}
            for client in sides.values():
                assert login(client, "clerk").status_code == 302
                _rate(client, 20)  # warm caches and pools
            rates: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(rounds):
                for name, client in sides.items():
                    rates[name].append(_rate(client, ROUND))
            sign_in = {"server": _sign_ins(server_app, 20), "cookie": _sign_ins(cookie_app, 20)}
            devices: dict[str, list[float]] = {"off": [], "new": [], "known": []}
            kept: list[str] = []
            _sign_ins(server_app, 1, kept)
            for _ in range(max(3, rounds // 4)):
                devices["off"].append(_sign_ins(no_devices, 10))
                devices["new"].append(_sign_ins(server_app, 10, []))
                devices["known"].append(_sign_ins(server_app, 10, kept))
        finally:
            for application in (server_app, cookie_app, no_devices):
                dispose(application)
            if settings:
                drop_postgres_settings(settings)
    backend = "PostgreSQL" if postgres else "SQLite"
    best = {name: max(values) for name, values in rates.items()}
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{backend}, {rounds} rounds of {ROUND} signed-in GET /account per side")
    for name, label in (
        ("cookie", "cookie sessions (baseline)"),
        ("server", "server-side sessions"),
    ):
        print(f"  {label:27} best {best[name]:.0f}/s, median {median[name]:.0f}/s")
    print(
        f"  ratio server/cookie: best rounds {best['server'] / best['cookie']:.3f}, "
        f"median rounds {median['server'] / median['cookie']:.3f}"
    )
    print(
        f"  sign-ins (argon2 test profile): cookie {sign_in['cookie']:.1f}/s, "
        f"server {sign_in['server']:.1f}/s, ratio {sign_in['server'] / sign_in['cookie']:.3f}"
    )
    fastest = {name: max(values) for name, values in devices.items()}
    print(
        f"  device cookies, sign-ins (best of {len(devices['off'])} rounds of 10): off "
        f"{fastest['off']:.1f}/s; no cookie presented {fastest['new']:.1f}/s, ratio "
        f"{fastest['new'] / fastest['off']:.3f}; cookie presented {fastest['known']:.1f}/s, "
        f"ratio {fastest['known'] / fastest['off']:.3f}"
    )


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    os.environ.setdefault("CARDSERVICE_ENV", "testing")
    run(args.rounds, args.postgres)


if __name__ == "__main__":
    main()
