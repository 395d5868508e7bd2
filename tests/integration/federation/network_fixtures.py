"""A network coordinator on loopback: the real ``citycard-network`` command, its published
static files served by a plain static web server, which a test can make serve other bytes
(a tampered, rolled-back or wrongly signed directory)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cardformat.network import WELL_KNOWN_PATH

from .loopback import LoopbackServers, QuietHandler


class _StaticHandler(QuietHandler):
    coordinator: Coordinator

    def do_GET(self) -> None:
        coordinator = self.coordinator
        coordinator.requests.append(self.path)
        body: bytes | None = None
        if self.path == WELL_KNOWN_PATH and coordinator.override is not None:
            body = coordinator.override
        else:
            target = (coordinator.out / self.path.lstrip("/")).resolve()
            if target.is_relative_to(coordinator.out.resolve()) and target.is_file():
                body = target.read_bytes()
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.answer(200, body)


@dataclass
class Coordinator:
    """A network's coordinator: its instance folder, its published files and their server."""

    instance: Path
    out: Path
    base_url: str = ""
    override: bytes | None = None
    requests: list[str] = field(default_factory=list)

    @property
    def directory_url(self) -> str:
        return self.base_url + WELL_KNOWN_PATH

    @property
    def published(self) -> bytes:
        return (self.out / WELL_KNOWN_PATH.lstrip("/")).read_bytes()

    def cli(self, *args: str, ok: bool = True) -> Result:
        from citycard_network.cli import cli

        result = CliRunner().invoke(
            cli,
            list(args),
            env={
                "CITYCARD_NETWORK_INSTANCE_PATH": str(self.instance),
                "CITYCARD_NETWORK_ENV": "testing",
            },
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def publish(self, *args: str) -> Result:
        return self.cli("publish", "--out", str(self.out), *args)

    @property
    def fingerprint(self) -> str:
        return self.cli("fingerprint").output.strip()


@pytest.fixture
def make_coordinator(tmp_path: Path) -> Iterator[Callable[[str], Coordinator]]:
    servers = LoopbackServers()

    def make(code: str) -> Coordinator:
        coordinator = Coordinator(
            instance=tmp_path / f"coordinator-{code.lower()}", out=tmp_path / f"www-{code.lower()}"
        )
        handler = type("Handler", (_StaticHandler,), {"coordinator": coordinator})
        coordinator.base_url = servers.start(handler)
        coordinator.cli("init", "--code", code, "--name", f"en={code.title()} network")
        return coordinator

    yield make
    servers.close()
