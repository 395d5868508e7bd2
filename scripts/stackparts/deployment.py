"""The stack itself: ``Stack`` starts its parts in order (certificates, secrets and databases,
migrations, the servers and nginx, the staff accounts, the city pinned in the verifier) and
stops them, here or from another process after ``up --detach``."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .certificates import make_certificates
from .common import free_port, write_private
from .launchers import Launcher, VenvLauncher
from .layout import StackLayout
from .nginx import nginx_command
from .postgres import admin_execute
from .processes import Servers, run_command, stop_detached

CITY_CODE = "FR SXB"
CITY_NAMES = ("en=Strasbourg", "fr=Strasbourg")
ROLES = ("clerk", "supervisor", "admin")


@dataclass
class Stack(StackLayout):
    """One running stack. ``up()`` starts it (and cleans up after itself if it cannot);
    ``down()`` stops every process, drops both databases and removes the folder unless
    ``keep`` was asked for (the tests keep the logs to scan them)."""

    launcher: Launcher = field(default_factory=VenvLauncher)
    passwords: dict[str, str] = field(default_factory=dict)
    started_in: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    _servers: Servers = field(default_factory=Servers)
    # Process groups of a stack started by another launcher (`up --detach`, then `down`).
    _detached: list[int] = field(default_factory=list)

    # -- start --

    def up(self) -> Stack:
        started = time.monotonic()

        def mark(step: str) -> None:
            self.timings[step] = time.monotonic() - started - sum(self.timings.values())

        try:
            self._prepare()
            self._create_databases()
            mark("certificates, secrets, databases")
            # Migrations once, before any instance starts (what boot.sh does for one instance).
            self.cardservice_cli("db", "upgrade")
            self.cardservice_cli(
                "init-city", "--code", CITY_CODE, *(f"--name={name}" for name in CITY_NAMES)
            )
            mark("migrations, city")
            # The staff accounts are made while the servers boot: neither waits for the other.
            with ThreadPoolExecutor(max_workers=4) as pool:
                accounts = [
                    pool.submit(
                        self.cardservice_cli,
                        *("users", "create", role, "--role", role, "--password-stdin"),
                        stdin=password + "\n",
                    )
                    for role, password in self.passwords.items()
                ]
                fingerprint = pool.submit(self.cardservice_cli, "keys", "fingerprint")
                for name in self.server_names:
                    app = name.partition("-")[0]
                    settings = self.server_settings(name)
                    command = self.launcher.server(app, name, settings, self.folder)
                    self._servers.spawn(name, command, self.log_dir)
                self._start_nginx()
                for index, port in enumerate(self.app_ports, start=1):
                    url = f"http://{self.host}:{port}/healthz"
                    self._wait_healthy(f"cardservice-{index}", url)
                url = f"http://{self.host}:{self.verifier_app_port}/healthz"
                self._wait_healthy("verifier", url)
                self._wait_healthy("nginx (issuance)", f"{self.url}/healthz")
                self._wait_healthy("nginx (verifier)", f"{self.verifier_url}/healthz")
                for account in accounts:
                    account.result()
                mark("servers healthy, staff accounts")
                self.verifier_cli(
                    "partners",
                    "add",
                    "--metadata-url",
                    self.issuer_url,
                    "--fingerprint",
                    fingerprint.result(),
                )
            mark("city pinned in the verifier")
        except BaseException:
            self.down()
            raise
        self.started_in = time.monotonic() - started
        return self

    def _prepare(self) -> None:
        # mkdtemp makes a 0700 folder; nginx's workers (an unprivileged user when started as
        # root) must traverse it to reach their temporary files, not list it.
        self.folder = Path(tempfile.mkdtemp(prefix="citycard-stack-"))
        self.folder.chmod(0o711)
        for name, mode in (("secrets", 0o700), ("logs", 0o700), ("tls", 0o700)):
            (self.folder / name).mkdir(mode=mode)
        for index in (1, 2):
            (self.folder / f"cardservice-{index}").mkdir(mode=0o700)
        (self.folder / "verifier").mkdir(mode=0o700)
        self.https_port = self.https_port or free_port(self.host)
        self.verifier_port = self.verifier_port or free_port(self.host)
        self.app_ports = [free_port(self.host), free_port(self.host)]
        self.verifier_app_port = free_port(self.host)
        self.ca_file, self._cert, self._key = make_certificates(self.folder / "tls", self.host)
        values = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "KEY_PASSPHRASE": secrets.token_urlsafe(32),
            "MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "VERIFIER_SECRET_KEY": secrets.token_hex(32),
        }
        if self.oidc is not None:
            values["OIDC_CLIENT_SECRET"] = self.oidc.client_secret
            if self.oidc.ca_file is not None:
                # Inside the stack's folder, like every file the instances read.
                shutil.copyfile(self.oidc.ca_file, self.folder / "tls" / "oidc-ca.pem")
        for name, value in values.items():
            write_private(self.folder / "secrets" / name.lower(), value.encode() + b"\n")
        self.passwords = {role: secrets.token_urlsafe(18) for role in ROLES}

    def _create_databases(self) -> None:
        tag = secrets.token_hex(4)
        for suffix in ("residents", "keys"):
            name = f"stack_{tag}_{suffix}"
            admin_execute(self.postgres_url, f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    def run_tool(
        self,
        app: str,
        argv: list[str],
        settings: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> str:
        """A command of ``app``'s installation, by the launcher, with the settings of its first
        server unless others are given; its output, or StackError if it fails."""
        if settings is None:
            settings = (
                self.cardservice_settings() if app == "cardservice" else self.verifier_settings()
            )
        return run_command(self.launcher.tool(app, argv, settings, self.folder), stdin)

    def cardservice_cli(self, *args: str, stdin: str | None = None) -> str:
        return self.run_tool("cardservice", ["cardservice", *args], stdin=stdin)

    def verifier_cli(self, *args: str) -> str:
        return self.run_tool("verifier", ["verifier", *args])

    def database_rows(self, database: str, statement: str) -> list[tuple[Any, ...]]:
        """The rows of a query in one of this stack's ``databases``."""
        return admin_execute(self.postgres_url, statement, database)

    def running(self) -> bool:
        """Whether every process the stack started still runs."""
        return self._servers.running()

    def server_pid(self, name: str) -> int:
        """The pid of the process started for one of ``server_names``."""
        return self._servers.pid(name)

    def _start_nginx(self) -> None:
        command = nginx_command(self.folder / "nginx", self.nginx_config(), self.log_dir)
        self._servers.spawn("nginx", command, self.log_dir)

    def _wait_healthy(self, name: str, url: str) -> None:
        context = self.ssl_context() if url.startswith("https") else None
        self._servers.wait_healthy(name, url, context)

    # -- stop --

    def down(self, keep: bool = False) -> None:
        self._servers.stop()
        stop_detached(self._detached, self.folder)
        self._detached.clear()
        for name in self.databases:
            admin_execute(self.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.databases.clear()
        if not keep and self.folder != Path() and self.folder.exists():
            shutil.rmtree(self.folder)

    def save(self, path: Path) -> None:
        """What `down` needs to stop a stack that `up --detach` left running (no secrets)."""
        state = {
            "folder": str(self.folder),
            "databases": self.databases,
            "postgres_url": self.postgres_url,
            "pids": self._servers.pids(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(state, indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> Stack:
        state = json.loads(path.read_text(encoding="utf-8"))
        stack = cls(postgres_url=state["postgres_url"])
        stack.folder = Path(state["folder"])
        stack.databases = list(state["databases"])
        stack._detached = [int(pid) for pid in state["pids"]]
        return stack

    def describe(self) -> str:
        lines = [
            f"Issuance service (counter, API):  {self.url}/",
            f"Verifier (agent page):            {self.verifier_url}/",
            f"Certificate authority to trust:   {self.ca_file}",
            f"Logs:                             {self.log_dir}",
            f"Started in {self.started_in:.1f} s ("
            + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.timings.items())
            + "). Staff sign-in:",
        ]
        lines += [f"  {role:<11} {password}" for role, password in self.passwords.items()]
        if self.oidc is not None:
            lines.append(f"Single sign-on with {self.oidc.issuer}; redirect URI to register there:")
            lines.append(f"  {self.sso_redirect_uri}")
        return "\n".join(lines)
