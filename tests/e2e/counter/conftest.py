"""Fixtures of the counter's end-to-end tests: the issuance app on a free port (a real HTTP
server in a thread, on a copy of the counter suites' instance folder, migrated by Alembic and
seeded once per session) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from scripts.stack import free_port
from tests.integration.counter.support import (
    counter_template,  # noqa: F401 (the counter suites' seeded instance, copied per module)
)
from tests.integration.issuance_app import SessionApp, dispose


class LiveServer:
    """An app served over HTTP in a thread on 127.0.0.1 while the `with` block lasts; `port`
    when it must be known before the app is built (a single sign-on callback names it)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = free_port() if port is None else port
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    template: SessionApp = request.getfixturevalue("counter_template")
    app = template.fresh_copy(tmp_path_factory.mktemp("counter-e2e") / "instance")
    with LiveServer(app) as server:
        yield server
    dispose(app)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(__file__).resolve().parent / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def camera_browser(launch: Callable[..., Any]) -> Any:
    """Chromium with its built-in fake webcam (a test pattern) and camera permission granted."""
    return launch("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
