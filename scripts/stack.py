"""The reference deployment on this machine, in one command (docs/operations.md).

    python scripts/stack.py up   # prints the URLs and the staff sign-in; Ctrl-C stops it
    make stack                   # the same
    python scripts/stack.py up --detach; python scripts/stack.py down    # in the background

It starts what a city runs, as a city runs it: nginx (config/nginx/citycard.conf) terminating TLS
with a certificate made at start by a throwaway certificate authority, two cardservice instances
under gunicorn (config/gunicorn.conf.py, CARDSERVICE_ENV=production, secrets given as files)
sharing one PostgreSQL resident database and one PostgreSQL key store, Redis for the rate limits,
and the verifier under gunicorn (config/verifier.gunicorn.conf.py, its secret a file too) behind
the same nginx, with the city pinned in its trust store. Both databases are created fresh and
dropped again at the end.

The stack tests (tests/stack/) start it through ``Stack.up()`` too, so they test what this starts.
What runs each app is a ``Launcher``: by default this checkout's virtualenv under gunicorn
(``VenvLauncher``); scripts/image.py gives one that runs the built container images instead, so
the images are checked behind this same nginx.

Single sign-on: ``Stack(oidc=OidcClient(...))``, or ``--oidc-issuer``, ``--oidc-client-id``,
``--oidc-client-secret-file`` (and ``--oidc-ca-file`` for a provider whose certificate a private
authority signed), points both instances at an OpenID provider; register
``https://<host>:<https port>/sso/callback`` there (``up`` prints it).

Settings (environment): STACK_POSTGRES_URL (a server where databases may be created; default
postgresql://postgres@127.0.0.1:5432/postgres), STACK_REDIS_URL (default redis://127.0.0.1:6379/0),
STACK_WORKERS (gunicorn workers per app, default 2). Ports are free ones chosen at start unless
--https-port / --verifier-port are given.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NGINX_TEMPLATE = ROOT / "config" / "nginx" / "citycard.conf"
DEFAULT_STATE = ROOT / "instance" / "stack.json"
CITY_CODE = "FR SXB"
CITY_NAMES = ("en=Strasbourg", "fr=Strasbourg")
ROLES = ("clerk", "supervisor", "admin")
SECRET_NAMES = ("SECRET_KEY", "KEY_PASSPHRASE", "MASTER_KEY", "INDEX_KEY")
HOST = "127.0.0.1"


class StackError(RuntimeError):
    """The stack could not start; the message says which part and why."""


def free_port(host: str = HOST) -> int:
    """A port free now: from STACK_PORTS (e.g. 20000-20999) when set, else any the system picks."""
    lowest, _, highest = os.environ.get("STACK_PORTS", "0-0").partition("-")
    for _ in range(200):
        port = secrets.choice(range(int(lowest), int(highest) + 1)) if int(lowest) else 0
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StackError(f"no free port in STACK_PORTS={os.environ['STACK_PORTS']}")


# --- certificates ---------------------------------------------------------------------------


def make_certificates(folder: Path, host: str = HOST) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed for ``host`` and localhost.

    Returns (ca.pem, server.pem, server.key). The CA's private key is never written: nothing
    else can be signed with it once this function returns.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "citycard local stack CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return ca_path, cert_path, key_path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgres_admin_url() -> str:
    url = os.environ.get("STACK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _database_url(admin_url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_url)
    user = params.get("user", "postgres")
    host = params.get("host", HOST)
    port = params.get("port", "5432")
    password = params.get("password")
    auth = f"{user}:{password}" if password else str(user)
    make_conninfo(admin_url)  # validates the URL before anything is created
    return f"postgresql+psycopg://{auth}@{host}:{port}/{name}"


def _admin_execute(
    admin_url: str, statement: str, dbname: str | None = None
) -> list[tuple[Any, ...]]:
    """One statement on the server (autocommit: CREATE and DROP DATABASE need it), in the admin
    URL's database unless ``dbname`` names another; its rows, if it returns any."""
    import psycopg

    target: dict[str, Any] = {"dbname": dbname} if dbname else {}
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5, **target) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []
    except psycopg.OperationalError as exc:
        raise StackError(f"PostgreSQL at {admin_url} is unreachable: {exc}") from None


# --- what runs the apps -----------------------------------------------------------------------

Command = tuple[list[str], dict[str, str]]  # argument list and environment of a process to start


class Launcher(Protocol):
    """How the stack runs an app ("cardservice" or "verifier"). ``settings`` are only the
    stack's own variables (``CARDSERVICE_*``, ``VERIFIER_*``, ``SSL_CERT_FILE``, ...); the
    launcher adds the environment around them. Paths in them lie inside ``folder``, the stack's."""

    def server(self, app: str, name: str, settings: dict[str, str], folder: Path) -> Command:
        """The app's server, listening where its ``*_BIND`` setting says."""
        ...

    def tool(self, app: str, argv: list[str], settings: dict[str, str], folder: Path) -> Command:
        """A command of the app's installation (``argv[0]`` is e.g. ``cardservice``)."""
        ...


class VenvLauncher:
    """This checkout's virtualenv: gunicorn with config/, the apps' command-line tools."""

    def server(self, app: str, name: str, settings: dict[str, str], folder: Path) -> Command:
        config = {"cardservice": "gunicorn.conf.py", "verifier": "verifier.gunicorn.conf.py"}[app]
        args = [str(BIN / "gunicorn"), "--config", f"config/{config}"]
        args += self._own_files(name, folder)
        return [*args, f"{app}:create_app()"], _host_env() | settings

    def tool(self, app: str, argv: list[str], settings: dict[str, str], folder: Path) -> Command:
        return [str(BIN / argv[0]), *argv[1:]], _host_env() | settings

    @staticmethod
    def _own_files(name: str, folder: Path) -> list[str]:
        """A pid file in the stack's folder (so `down` can tell its processes by their command
        line) and, on recent gunicorns, a control socket there too: by default they all open one
        at the same path per user, which several gunicorns on one machine cannot share."""
        from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

        args = ["--pid", str(folder / f"{name}.pid")]
        if any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
            args += ["--control-socket", str(folder / f"{name}.ctl")]
        return args


def _host_env() -> dict[str, str]:
    """This process's environment without any app setting: the stack's are the only ones."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CARDSERVICE_", "VERIFIER_"))
    }


# --- the stack ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcClient:
    """The counter's registration at an OpenID provider (docs/operations.md, "Single sign-on")."""

    issuer: str
    client_id: str
    client_secret: str
    # The authority that signed the provider's certificate, when it is not a public one: the
    # instances trust it (for their calls to the provider) through requests' own variable.
    ca_file: Path | None = None
    # More CARDSERVICE_OIDC_* settings (role map, MFA values...), as the city sets them.
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """One running stack. ``up()`` starts it (and cleans up after itself if it cannot);
    ``down()`` stops every process, drops both databases and removes the folder unless
    ``keep`` was asked for (the tests keep the logs to scan them)."""

    https_port: int = 0
    # Any loopback address: the tests use 127.0.0.2, so that 127.0.0.1 in a log line can only be
    # a client's (the browser's) address, never one the stack listens on.
    host: str = HOST
    postgres_url: str = field(default_factory=_postgres_admin_url)
    verifier_port: int = 0
    launcher: Launcher = field(default_factory=VenvLauncher)
    workers: int = field(default_factory=lambda: int(os.environ.get("STACK_WORKERS", "2")))
    redis_url: str = field(
        default_factory=lambda: os.environ.get("STACK_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    folder: Path = field(default_factory=lambda: Path())
    ca_file: Path = field(default_factory=lambda: Path())
    passwords: dict[str, str] = field(default_factory=dict)
    started_in: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    app_ports: list[int] = field(default_factory=list)
    verifier_app_port: int = 0
    databases: list[str] = field(default_factory=list)
    # Added to the settings of every cardservice instance and of its tools: a test suite's own
    # tuning (e.g. the concurrency suite moves the per-address sign-in limit out of the way of
    # the lockout it tests). Empty for a city's stack.
    cardservice_extra: dict[str, str] = field(default_factory=dict)
    # Single sign-on with this provider for both instances; none: local passwords only.
    oidc: OidcClient | None = None
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)
    # Process groups of a stack started by another launcher (`up --detach`, then `down`).
    _detached: list[int] = field(default_factory=list)
    _cert: Path = field(default_factory=lambda: Path())
    _key: Path = field(default_factory=lambda: Path())

    def __post_init__(self) -> None:
        self.postgres_url = self.postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def verifier_url(self) -> str:
        return f"https://{self.host}:{self.verifier_port}"

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

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
                    self._spawn(name, self.launcher.server(app, name, settings, self.folder))
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

    @property
    def issuer_url(self) -> str:
        return f"{self.url}/.well-known/citycard/issuer"

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
            _write_private(self.folder / "secrets" / name.lower(), value.encode() + b"\n")
        self.passwords = {role: secrets.token_urlsafe(18) for role in ROLES}

    def _create_databases(self) -> None:
        tag = secrets.token_hex(4)
        for suffix in ("residents", "keys"):
            name = f"stack_{tag}_{suffix}"
            _admin_execute(self.postgres_url, f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    @property
    def server_names(self) -> list[str]:
        return [*(f"cardservice-{index}" for index in (1, 2)), "verifier"]

    def server_settings(self, name: str) -> dict[str, str]:
        """The settings of one of ``server_names``, its listening address included."""
        if name == "verifier":
            return self.verifier_settings() | {
                "VERIFIER_BIND": f"{self.host}:{self.verifier_app_port}"
            }
        index = int(name.rpartition("-")[2])
        return self.cardservice_settings(index) | {
            "CARDSERVICE_BIND": f"{self.host}:{self.app_ports[index - 1]}"
        }

    def cardservice_settings(self, index: int = 1) -> dict[str, str]:
        """The stack's settings for cardservice instance ``index`` (the launcher adds the rest
        of the environment)."""
        settings = {
            "CARDSERVICE_ENV": "production",
            "CARDSERVICE_PUBLIC_URL": self.url,
            "CARDSERVICE_INSTANCE_PATH": str(self.folder / f"cardservice-{index}"),
            "CARDSERVICE_DATABASE_URL": self.database_url(0),
            "CARDSERVICE_KEYSTORE_DATABASE_URL": self.database_url(1),
            "CARDSERVICE_PROXY_HOPS": "1",
            "CARDSERVICE_RATELIMIT_STORAGE_URI": self.redis_url,
            "CARDSERVICE_WORKERS": str(self.workers),
            "PYTHONUNBUFFERED": "1",
        }
        for name in SECRET_NAMES:
            settings[f"CARDSERVICE_{name}_FILE"] = str(self.folder / "secrets" / name.lower())
        return settings | self.oidc_settings() | self.cardservice_extra

    def oidc_settings(self) -> dict[str, str]:
        """The instances' single sign-on settings (none without ``oidc``)."""
        if self.oidc is None:
            return {}
        settings = {
            "CARDSERVICE_OIDC_ISSUER": self.oidc.issuer,
            "CARDSERVICE_OIDC_CLIENT_ID": self.oidc.client_id,
            "CARDSERVICE_OIDC_CLIENT_SECRET_FILE": str(
                self.folder / "secrets" / "oidc_client_secret"
            ),
            **self.oidc.settings,
        }
        if self.oidc.ca_file is not None:
            settings["REQUESTS_CA_BUNDLE"] = str(self.folder / "tls" / "oidc-ca.pem")
        return settings

    @property
    def sso_redirect_uri(self) -> str:
        """What to register at the provider."""
        return f"{self.url}/sso/callback"

    def database_url(self, index: int) -> str:
        """The SQLAlchemy URL of ``databases[index]``: 0 the resident database, 1 the key store."""
        return _database_url(self.postgres_url, self.databases[index])

    def verifier_settings(self) -> dict[str, str]:
        """The stack's settings for the verifier (the launcher adds the rest)."""
        return {
            "VERIFIER_ENV": "production",
            "VERIFIER_INSTANCE_PATH": str(self.folder / "verifier"),
            "VERIFIER_SECRET_KEY_FILE": str(self.folder / "secrets" / "verifier_secret_key"),
            "VERIFIER_TRUSTED_PROXIES": "1",
            "VERIFIER_RATELIMIT_STORAGE_URI": self.redis_url,
            "VERIFIER_WORKERS": str(self.workers),
            # `verifier sync` fetches the city's documents over HTTPS from nginx: it trusts
            # the stack's CA through OpenSSL's own variable, with every check in place.
            "SSL_CERT_FILE": str(self.ca_file),
            "PYTHONUNBUFFERED": "1",
        }

    def _run(self, command: Command, stdin: str | None = None) -> str:
        args, env = command
        result = subprocess.run(
            args, env=env, input=stdin, capture_output=True, text=True, cwd=ROOT, check=False
        )
        if result.returncode != 0:
            raise StackError(
                f"`{' '.join(args[:3])} ...` failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout.strip()

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
        return self._run(self.launcher.tool(app, argv, settings, self.folder), stdin)

    def cardservice_cli(self, *args: str, stdin: str | None = None) -> str:
        return self.run_tool("cardservice", ["cardservice", *args], stdin=stdin)

    def verifier_cli(self, *args: str) -> str:
        return self.run_tool("verifier", ["verifier", *args])

    def database_rows(self, database: str, statement: str) -> list[tuple[Any, ...]]:
        """The rows of a query in one of this stack's ``databases``."""
        return _admin_execute(self.postgres_url, statement, database)

    def running(self) -> bool:
        """Whether every process the stack started still runs."""
        return all(process.poll() is None for process in self._processes.values())

    def server_pid(self, name: str) -> int:
        """The pid of the process started for one of ``server_names``."""
        return self._processes[name].pid

    def _spawn(self, name: str, command: Command) -> None:
        args, env = command
        out = open(self.log_dir / f"{name}.out.log", "ab")  # noqa: SIM115 (closed in down())
        err = open(self.log_dir / f"{name}.err.log", "ab")  # noqa: SIM115
        self._files.extend((out, err))
        self._processes[name] = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=err, start_new_session=True
        )

    def nginx_config(self) -> str:
        """config/nginx/citycard.conf with this stack's ports, paths and certificate."""
        values = {
            "COUNTER_SERVER_NAME": f"{self.host} localhost",
            "COUNTER_LISTEN": f"{self.host}:{self.https_port}",
            "VERIFIER_SERVER_NAME": f"{self.host} localhost",
            "VERIFIER_LISTEN": f"{self.host}:{self.verifier_port}",
            "CERTIFICATE": str(self._cert),
            "CERTIFICATE_KEY": str(self._key),
            "CARDSERVICE_1": f"{self.host}:{self.app_ports[0]}",
            "CARDSERVICE_2": f"{self.host}:{self.app_ports[1]}",
            "VERIFIER": f"{self.host}:{self.verifier_app_port}",
            "LOG_DIR": str(self.log_dir),
        }
        text = NGINX_TEMPLATE.read_text(encoding="utf-8")
        for name, value in values.items():
            text = text.replace("{{" + name + "}}", value)
        if re.search(r"\{\{[A-Z0-9_]+\}\}", text):
            raise StackError(f"{NGINX_TEMPLATE} has a placeholder the launcher does not know")
        return text

    def _start_nginx(self) -> None:
        folder = self.folder / "nginx"
        folder.mkdir(mode=0o711)
        (folder / "citycard.conf").write_text(self.nginx_config(), encoding="utf-8")
        # What Debian's /etc/nginx/nginx.conf provides around conf.d/, in this folder.
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {folder}/{kind}_temp;"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {self.log_dir}/nginx-error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"{temp}\n"
            "    default_type application/octet-stream;\n"
            f"    include {folder}/citycard.conf;\n"
            f"    access_log {self.log_dir}/nginx-access.log citycard_redacted;\n"
            "}\n",
            encoding="utf-8",
        )
        check = subprocess.run(
            ["nginx", "-t", "-q", "-p", str(folder), "-c", str(folder / "nginx.conf")],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise StackError(f"nginx refused its configuration:\n{check.stderr}")
        self._spawn(
            "nginx",
            (
                [
                    "nginx",
                    "-p",
                    str(folder),
                    "-c",
                    str(folder / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ],
                dict(os.environ),
            ),
        )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _wait_healthy(self, name: str, url: str, timeout: float = 60) -> None:
        context = self.ssl_context() if url.startswith("https") else None
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for process_name, process in self._processes.items():
                if process.poll() is not None:
                    log = self.log_dir / f"{process_name}.err.log"
                    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                    raise StackError(f"{process_name} stopped while starting:\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        raise StackError(f"{name} did not answer 200 on {url} within {timeout:.0f} s ({last})")

    # -- stop --

    def down(self, keep: bool = False) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        _stop_detached(self._detached, self.folder)
        self._detached.clear()
        for fh in self._files:
            fh.close()
        self._files.clear()
        for name in self.databases:
            _admin_execute(self.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.databases.clear()
        if not keep and self.folder != Path() and self.folder.exists():
            shutil.rmtree(self.folder)

    def save(self, path: Path) -> None:
        """What `down` needs to stop a stack that `up --detach` left running (no secrets)."""
        state = {
            "folder": str(self.folder),
            "databases": self.databases,
            "postgres_url": self.postgres_url,
            "pids": [process.pid for process in self._processes.values()],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, json.dumps(state, indent=2).encode())

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


def _stop_detached(pids: list[int], folder: Path) -> None:
    """Stop the process groups a detached stack left, and only them: a pid is signalled only if
    its command line names the stack's folder (every process of the stack does), so a pid the
    system reused since is left alone."""
    ours = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone already
        if str(folder).encode() in cmdline:
            ours.append(pid)
            os.killpg(pid, signal.SIGTERM)
        else:
            print(f"stack: process {pid} is not one of this stack's; left alone", file=sys.stderr)
    deadline = time.monotonic() + 25
    while ours and time.monotonic() < deadline:
        ours = [pid for pid in ours if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    for pid in ours:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--https-port", type=int, default=0)
    parser.add_argument("--verifier-port", type=int, default=0)
    parser.add_argument(
        "--detach",
        action="store_true",
        help="leave the stack running and return; `down` stops it",
    )
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="for --detach and down")
    parser.add_argument("--oidc-issuer", help="single sign-on with this OpenID provider")
    parser.add_argument("--oidc-client-id", help="the counter's client id there")
    parser.add_argument("--oidc-client-secret-file", type=Path, help="a file holding its secret")
    parser.add_argument("--oidc-ca-file", type=Path, help="the CA of the provider's certificate")
    args = parser.parse_args(argv)
    if args.command == "down":
        if not args.state.exists():
            print(f"stack: no detached stack ({args.state} does not exist)", file=sys.stderr)
            return 1
        Stack.load(args.state).down()
        args.state.unlink()
        return 0
    if args.detach and args.state.exists():
        print(f"stack: {args.state} exists: run `down` first", file=sys.stderr)
        return 1
    oidc = None
    if args.oidc_issuer:
        if not (args.oidc_client_id and args.oidc_client_secret_file):
            parser.error("--oidc-issuer needs --oidc-client-id and --oidc-client-secret-file")
        secret = args.oidc_client_secret_file.read_text(encoding="utf-8").strip()
        oidc = OidcClient(args.oidc_issuer, args.oidc_client_id, secret, args.oidc_ca_file)
    stack = Stack(https_port=args.https_port, verifier_port=args.verifier_port, oidc=oidc)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.up()
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    print(stack.describe(), flush=True)
    if args.detach:
        stack.save(args.state)
        print(f"Detached; stop it with: python scripts/stack.py down --state {args.state}")
        return 0
    try:
        while stack.running():
            time.sleep(0.5)
        print("stack: a process stopped; see the logs above. Stopping.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
