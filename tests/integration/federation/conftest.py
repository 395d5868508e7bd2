"""Two (or three) cities on loopback, over real HTTP on 127.0.0.1.

Each city is a real issuance app (``issuance_app.build_app``) with its own instance folder, its
own SQLite database built by the migrations (a copy of one migrated once per session), and its own
root and signing keys made by the ``init-city`` command; it is served by a werkzeug server on a
free port whose every request is appended to the city's ``access_log``. City B also runs a
verifier (``verifier.create_app``) with its own instance folder and trust store, driven through
its CLI (``partners add``, ``sync``) and its HTTP API through the test client. Nothing in
cardformat is mocked.

City A's services run on the real clock, because its publication endpoints sign with the real
clock; B's verifier gets an injectable clock that tests move forward to make lists stale.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from flask import Flask
from PIL import Image
from werkzeug.serving import BaseWSGIServer, make_server

from tests.integration.issuance_app import SessionApp, dispose, session_app

from .loopback import LoopbackServers, QuietHandler

METADATA_PATH = "/.well-known/citycard/issuer"


class Clock:
    """Real time plus an offset the test controls: B's verifier reads it as its "now"."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class _LoggedApp:
    """WSGI wrapper: records (method, path) of every request before the app sees it.

    The server must be bound (for its port) before the app exists (its public URL names the
    port), so the app is attached afterwards.
    """

    def __init__(self) -> None:
        self.app: Flask | None = None
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            self.log.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        assert self.app is not None
        return self.app(environ, start_response)


def _photo() -> bytes:
    image = Image.new("RGB", (300, 400), (180, 140, 120))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


@dataclass
class City:
    """One issuing city: its app, its HTTP server and what that server was asked."""

    code: str
    name: str
    app: Flask
    server: BaseWSGIServer
    wsgi: _LoggedApp
    base_url: str
    fingerprint: str = ""
    _photo: bytes = field(default_factory=_photo, repr=False)

    @property
    def access_log(self) -> list[tuple[str, str]]:
        return self.wsgi.log

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    def cli(self, *args: str, ok: bool = True) -> Any:
        result = self.app.test_cli_runner().invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def _services(self) -> tuple[Any, Any, Any]:
        from cardservice.extensions import db
        from cardservice.services import Actor, deps

        return db.session, deps(self.app), Actor.system("federation-tests")

    def issue(self, name: str = "Amina Diallo") -> Any:
        """Enrol a resident and issue their card through the real services; IssuedCard."""
        from cardservice.services.cards import issue_card
        from cardservice.services.residents import EnrolmentInput, enrol_resident

        with self.app.app_context():
            session, deps, actor = self._services()
            now = datetime.now(UTC)
            enrolled = enrol_resident(
                session,
                deps,
                EnrolmentInput(
                    display_name=name,
                    birth_date="1990-04-17",
                    preferred_language="fr",
                    photo=self._photo,
                    documents=["passport", "utility_bill"],
                ),
                now=now,
                actor=actor,
            )
            return issue_card(session, deps, enrolled.resident_id, now=now, actor=actor)

    def revoke(self, number: str, reason: str = "stolen") -> None:
        from cardservice.services.cards import revoke_card

        with self.app.app_context():
            session, deps, actor = self._services()
            revoke_card(session, deps, number, reason=reason, now=datetime.now(UTC), actor=actor)

    def reprint(self, number: str) -> str:
        """Reprint a card at the counter: same number, a token signed with the active key."""
        from cardservice.services.cards import print_card

        with self.app.app_context():
            session, deps, actor = self._services()
            printable = print_card(
                session, deps, number, now=datetime.now(UTC), actor=actor, reprint=True
            )
            qr: str = printable.qr_text
            return qr

    def get(self, path: str) -> bytes:
        with urlopen(self.base_url + path, timeout=10) as response:
            body: bytes = response.read()
            return body


@pytest.fixture(scope="session")
def _migrated_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionApp]:
    """One instance folder migrated once (no city in it yet): every city starts as a copy of
    it, which is far cheaper than running the migrations for each."""
    with session_app(tmp_path_factory, "federation_city", postgres=False) as built:
        yield built


@pytest.fixture
def make_city(tmp_path: Path, _migrated_city: SessionApp) -> Iterator[Callable[[str, str], City]]:
    """Factory: a city with its own instance folder, migrated database, keys and HTTP server."""
    cities: list[City] = []
    servers: list[Any] = []

    def make(code: str, name: str) -> City:
        instance = tmp_path / f"city-{code.replace(' ', '').lower()}"
        wsgi = _LoggedApp()
        server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        # Closed at teardown even if the city fails to come up: a leaked listening socket would
        # fail a later test with its ResourceWarning.
        servers.append(server)
        base_url = f"http://127.0.0.1:{server.server_port}"
        app = _migrated_city.fresh_copy(instance, PUBLIC_URL=base_url)
        wsgi.app = app
        # A short poll interval keeps shutdown at teardown quick.
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        city = City(code=code, name=name, app=app, server=server, wsgi=wsgi, base_url=base_url)
        cities.append(city)
        city.cli("init-city", "--code", code, "--name", f"en={name}")
        city.fingerprint = city.cli("keys", "fingerprint").output.strip()
        return city

    yield make
    for city in cities:  # serving: shutdown() would wait forever on a server never started
        city.server.shutdown()
    for server in servers:
        server.server_close()
    for city in cities:
        dispose(city.app)


@pytest.fixture
def city_a(make_city: Callable[[str, str], City]) -> City:
    return make_city("FR SXB", "Strasbourg")


@pytest.fixture
def city_b(make_city: Callable[[str, str], City]) -> City:
    return make_city("BR SAO", "São Paulo")


@dataclass
class Verifier:
    """City B's verifier: its app, its clock, and shortcuts for its CLI and API."""

    app: Flask
    clock: Clock

    def cli(self, *args: str) -> Any:
        return self.app.test_cli_runner().invoke(args=list(args))

    def pin(self, city: City | str, fingerprint: str | None = None, *, url: str = "") -> Any:
        if isinstance(city, City):
            url = url or city.metadata_url
            fingerprint = fingerprint or city.fingerprint
        assert fingerprint is not None
        return self.cli("partners", "add", "--metadata-url", url, "--fingerprint", fingerprint)

    def sync(self) -> Any:
        return self.cli("sync")

    def verify(self, qr: str) -> str:
        response = self.app.test_client().post("/api/v1/verify", json={"qr": qr})
        assert response.status_code == 200, response.get_data(as_text=True)
        result: str = response.get_json()["result"]
        return result

    def verify_full(self, qr: str) -> dict[str, Any]:
        response = self.app.test_client().post("/api/v1/verify", json={"qr": qr})
        assert response.status_code == 200
        body: dict[str, Any] = response.get_json()
        return body


@pytest.fixture
def make_verifier(tmp_path: Path) -> Callable[..., Verifier]:
    from verifier import create_app

    def make(**config: Any) -> Verifier:
        clock = Clock()
        settings: dict[str, Any] = {
            "INSTANCE_PATH": str(tmp_path / f"verifier-{len(list(tmp_path.glob('verifier-*')))}"),
            "ENV": "testing",
            "CLOCK": clock,
            "TRUST_RELOAD_INTERVAL": 0.0,  # see every sync at once
            "RATELIMIT_ENABLED": False,
            "SYNC_TIMEOUT": 5,
            "SYNC_RETRIES": 0,
        }
        settings.update(config)
        return Verifier(app=create_app(settings), clock=clock)

    return make


@pytest.fixture
def verifier_b(make_verifier: Callable[..., Verifier]) -> Verifier:
    return make_verifier()


class _ProxyHandler(QuietHandler):
    proxy: MetadataProxy

    def do_GET(self) -> None:
        proxy = self.proxy
        proxy.requests.append(self.path)
        override = proxy.override if self.path == METADATA_PATH else None
        if self.path == METADATA_PATH and proxy.delay:
            time.sleep(proxy.delay)
        if self.path == METADATA_PATH and proxy.failures > 0:
            proxy.failures -= 1
            status, body = 503, b"busy"
        elif override is not None:
            status, body = 200, override
        else:
            try:
                with urlopen(proxy.upstream + self.path, timeout=10) as response:
                    status, body = response.status, response.read()
            except Exception as exc:  # an upstream error becomes a 502, as a real proxy would
                status, body = 502, str(exc).encode()
        if self.path == METADATA_PATH and override is None and status == 200:
            proxy.seen.append(body)
        self.answer(status, body)


@dataclass
class MetadataProxy:
    """A reverse proxy in front of a city that can serve doctored metadata instead of its own.

    ``seen`` keeps every genuine metadata document that passed through (for rollback tests).
    """

    upstream: str
    base_url: str = ""
    override: bytes | None = None
    # Answer the metadata with this many 503s before forwarding; delay it by this many seconds.
    failures: int = 0
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)
    seen: list[bytes] = field(default_factory=list)

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH


@pytest.fixture
def proxy_for() -> Iterator[Callable[[City], MetadataProxy]]:
    servers = LoopbackServers()

    def make(city: City) -> MetadataProxy:
        proxy = MetadataProxy(upstream=city.base_url)
        proxy.base_url = servers.start(type("Handler", (_ProxyHandler,), {"proxy": proxy}))
        return proxy

    yield make
    servers.close()


# A network coordinator (citycard-network) and its static web server: tests/.../test_network.py.
from .network_fixtures import make_coordinator  # noqa: E402, F401
