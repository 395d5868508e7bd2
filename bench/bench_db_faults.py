"""Database connections terminated under load: no 500, nothing half-written.

What it does:

1. creates two PostgreSQL databases on the server of ``--postgres`` (the resident database and
   the key store, ``faults_bench_<pid>`` and ``faults_bench_<pid>_keys``), prepares a city and
   API tokens through the `cardservice` command (development mode, secrets generated);
2. starts gunicorn with ``config/gunicorn.conf.py`` (``--workers`` gthread workers, 2 threads);
3. runs ``--clients`` client threads for ``--seconds``: each enrols a resident, issues a card,
   reads the record, fetches the issuer metadata and a status list, and revokes the card, in a
   loop; meanwhile another thread terminates every backend of the app (``pg_terminate_backend``,
   matched by the application_name the app connects with) every ``--interval`` seconds;
4. prints the answers by status, then checks the databases: every enrolment answered 201
   exists, every revocation answered 200 is revoked,
   and no resident record lacks its data key (a key without a record is an orphan for
   `cardservice keys sweep`, which is allowed).

    .venv/bin/python bench/bench_db_faults.py [--postgres URL] [--seconds 20] [--port 25090]

Exit status 1 when any answer was a 500 or any check failed.
"""

from __future__ import annotations

import argparse
import base64
import collections
import io
import json
import os
import random
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import gunicorn_server
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

APP_NAME = "cardservice-faults-bench"


def _photo() -> str:
    out = io.BytesIO()
    Image.new("RGB", (600, 800), (180, 140, 120)).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode()


class Client:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url, self.tokens = url, tokens
        self.answers: collections.Counter[tuple[str, int]] = collections.Counter()
        self.enrolled: list[str] = []
        self.revoked: list[str] = []
        self.lock = threading.Lock()

    def call(self, name: str, method: str, path: str, body: Any = None, role: str = "") -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers)
        request.method = method
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        with self.lock:
            self.answers[(name, status)] += 1
        if status in (200, 201) and payload[:1] == b"{":
            return status, json.loads(payload)
        return status, None

    def loop(self, until: float, photo: str, list_path: str, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < until:
            body = {
                "display_name": f"Bench Resident {rng.randrange(10**9)}",
                "birth_date": "1980-01-01",
                "gender_marker": None,
                "preferred_language": "fr",
                "photo": photo,
                "documents": ["passport", "utility_bill"],
            }
            status, created = self.call("enrol", "POST", "/api/v1/residents", body, "clerk")
            self.call("issuer", "GET", "/.well-known/citycard/issuer")
            self.call("status list", "GET", list_path)
            if status != 201:
                continue
            resident = created["id"]
            with self.lock:
                self.enrolled.append(resident)
            self.call("read", "GET", f"/api/v1/residents/{resident}", role="clerk")
            status, card = self.call(
                "issue", "POST", f"/api/v1/residents/{resident}/cards", {}, "clerk"
            )
            if status != 201:
                continue
            number = card["number"]
            status, _ = self.call(
                "revoke", "POST", f"/api/v1/cards/{number}/revoke", {"reason": "lost"}, "supervisor"
            )
            if status == 200:
                with self.lock:
                    self.revoked.append(number)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--port", type=int, default=25090)
    args = parser.parse_args()

    server = make_url(args.postgres)
    names = [f"faults_bench_{os.getpid()}", f"faults_bench_{os.getpid()}_keys"]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [
        server.set(database=name, query={"application_name": APP_NAME}).render_as_string(
            hide_password=False
        )
        for name in names
    ]
    instance = Path(tempfile.mkdtemp(prefix="bench-db-faults-"))
    env = {
        **os.environ,
        "CARDSERVICE_INSTANCE_PATH": str(instance),
        "CARDSERVICE_ENV": "development",
        "CARDSERVICE_DATABASE_URL": urls[0],
        "CARDSERVICE_KEYSTORE_DATABASE_URL": urls[1],
        "CARDSERVICE_BIND": f"127.0.0.1:{args.port}",
        "CARDSERVICE_WORKERS": str(args.workers),
        "CARDSERVICE_LOG_LEVEL": "error",
    }
    process = None
    failed = False
    try:
        gunicorn_server.cardservice(env, "db", "upgrade")
        gunicorn_server.cardservice(env, "init-city", "--code", "FR SXB", "--name", "Strasbourg")
        tokens = {
            role: gunicorn_server.cardservice(
                env, "tokens", "create", role, "--role", role
            ).split()[-1]
            for role in ("clerk", "supervisor")
        }
        process = gunicorn_server.start(env, args.port)
        url = f"http://127.0.0.1:{args.port}"
        resident_db = create_engine(server.set(database=names[0]))
        with resident_db.connect() as connection:
            list_id = connection.scalar(text("SELECT id FROM status_list LIMIT 1"))
        client = Client(url, tokens)
        until = time.monotonic() + args.seconds
        photo = _photo()
        threads = [
            threading.Thread(
                target=client.loop,
                args=(until, photo, f"/.well-known/citycard/status/{list_id}", n),
            )
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        killed = 0
        with admin.connect() as connection:
            while time.monotonic() < until:
                time.sleep(args.interval)
                killed += len(
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = :name"
                        ),
                        {"name": APP_NAME},
                    ).all()
                )
        for thread in threads:
            thread.join()

        print(
            f"{args.seconds:.0f} s, {args.clients} clients, gunicorn {args.workers} workers x 2 "
            f"threads; {killed} backends terminated (every {args.interval} s)"
        )
        by_status: collections.Counter[int] = collections.Counter()
        for (name, status), count in sorted(client.answers.items()):
            print(f"  {name:12s} {status}: {count}")
            by_status[status] += count
        print("answers by status:", dict(sorted(by_status.items())))
        failed = by_status[500] > 0

        keys_db = create_engine(server.set(database=names[1]))
        with resident_db.connect() as connection:
            residents = set(connection.scalars(text("SELECT id FROM resident")))
            cards = dict(connection.execute(text("SELECT number, status FROM card")).all())
        with keys_db.connect() as connection:
            keys = set(connection.scalars(text("SELECT resident_id FROM resident_key")))
        missing = [r for r in client.enrolled if r not in residents]
        not_revoked = [n for n in client.revoked if cards.get(n) != "revoked"]
        without_key = residents - keys
        print(
            f"checks: {len(client.enrolled)} enrolments answered 201, {len(missing)} missing; "
            f"{len(client.revoked)} revocations answered 200, {len(not_revoked)} not revoked; "
            f"{len(without_key)} records without a key; {len(keys - residents)} orphan keys "
            "(for `keys sweep`)"
        )
        failed = failed or bool(missing or not_revoked or without_key)
        resident_db.dispose()
        keys_db.dispose()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)
    print("FAILED" if failed else "OK: no 500, nothing half-written")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
