"""Fixtures of the counter's end-to-end tests: the issuance app on a free port (a real HTTP
server in a thread, on a temporary instance folder migrated by Alembic) and Debian's Chromium
driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from cardservice.extensions import db
from scripts.stack import free_port
from tests.integration.counter.support import make_app


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
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
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    instance = tmp_path_factory.mktemp("counter-e2e")
    app = make_app(instance)
    with LiveServer(app) as server:
        yield server
    with app.app_context():
        for bound in db.engines.values():
            bound.dispose()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = Path(__file__).resolve().parent / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def camera_browser(launch: Callable[..., Any]) -> Any:
    """Chromium with its built-in fake webcam (a test pattern) and camera permission granted."""
    return launch("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
