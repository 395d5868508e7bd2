"""Booting the images built by scripts/image.py: on the host network, with `podman run` where the
machine allows it, otherwise the image's own filesystem under chroot as the image's user.

Used by scripts/image.py (`boot` and `test`); see its docstring.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

IMAGES = {"cardservice": "localhost/cardservice:latest", "verifier": "localhost/verifier:latest"}
SECRET_NAMES = ("secret_key", "key_passphrase", "master_key", "index_key")


def say(message: str) -> None:
    print(f"--- image: {message}", flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output goes to ours unless captured."""
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def output(cmd: list[str]) -> str:
    return run(cmd, stdout=subprocess.PIPE).stdout.strip()


# --- databases ------------------------------------------------------------------------------


class Postgres:
    """A fresh resident database and key store on the test server, dropped on exit."""

    def __init__(self) -> None:
        url = urllib.parse.urlsplit(
            os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
        )
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 5432
        self.user = url.username or "postgres"
        self.admin_db = url.path.lstrip("/") or "postgres"
        stem = f"image_{secrets.token_hex(4)}"
        self.names = (stem, f"{stem}_keys")

    def psql(self, sql: str, database: str | None = None) -> str:
        return output(
            [
                "psql",
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database or self.admin_db,
                "-c",
                sql,
            ]
        )

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"

    def __enter__(self) -> Postgres:
        for name in self.names:
            self.psql(f'CREATE DATABASE "{name}"')
        say(f"databases {', '.join(self.names)} created")
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(f"databases {', '.join(self.names)} dropped")


# --- booting --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def podman_run_works(image: str) -> bool:
    probe = subprocess.run(
        ["podman", "run", "--rm", "--network=host", "--entrypoint", "true", image],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if probe.returncode != 0:
        reason = probe.stdout.strip().splitlines()[-1:] or ["no output"]
        say(f"podman run is not usable here ({reason[0]}): booting under chroot")
    return probe.returncode == 0


class Booted:
    """One image serving on the host network, by `podman run` or under chroot."""

    def __init__(self, target: str, env: dict[str, str], files: dict[str, str]) -> None:
        self.target = target
        self.image = IMAGES[target]
        self.env = env
        self.files = files  # absolute path in the image -> content, readable by its user only
        self.name = f"citycard-{target}-{secrets.token_hex(4)}"
        self.config: dict[str, Any] = json.loads(
            output(["podman", "image", "inspect", "--format", "{{json .Config}}", self.image])
        )
        self.log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None
        self.in_container = False
        self.root: Path | None = None
        self.mounts: list[Path] = []
        self.secret_dir: Path | None = None

    # The image's user, as numbers, from its own /etc/passwd when named.
    def user_ids(self) -> tuple[int, int]:
        user = str(self.config.get("User") or "0")
        name, _, group = user.partition(":")
        if name.isdigit():
            return int(name), int(group or name)
        assert self.root is not None
        for line in (self.root / "etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2]), int(fields[3])
        raise RuntimeError(f"{self.image}: user {name} is not in its /etc/passwd")

    def image_env(self) -> dict[str, str]:
        env = dict(item.split("=", 1) for item in self.config.get("Env") or [])
        env.update(self.env)
        return env

    def start(self, use_podman: bool) -> None:
        self.in_container = use_podman
        if use_podman:
            self._start_container()
        else:
            self._start_chroot()

    def _start_container(self) -> None:
        self.secret_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        volumes: list[str] = []
        for path, content in self.files.items():
            local = self.secret_dir / Path(path).name
            local.write_text(content)
            volumes += ["--volume", f"{local}:{path}:ro"]
        uid, gid = self._container_user_ids()
        for local in self.secret_dir.iterdir():
            os.chown(local, uid, gid)
            local.chmod(0o400)
        env_args = [arg for key, value in self.env.items() for arg in ("--env", f"{key}={value}")]
        run(
            [
                "podman",
                "run",
                "--detach",
                # Its HEALTHCHECK is run by hand (Booted.healthcheck): no systemd timer needed.
                "--no-healthcheck",
                "--name",
                self.name,
                "--network=host",
                *env_args,
                *volumes,
                self.image,
            ],
            stdout=subprocess.DEVNULL,
        )
        self.process = subprocess.Popen(
            ["podman", "logs", "--follow", self.name], stdout=self.log, stderr=subprocess.STDOUT
        )

    def _container_user_ids(self) -> tuple[int, int]:
        ids = output(["podman", "run", "--rm", "--entrypoint", "id", self.image, "-u"])
        gid = output(["podman", "run", "--rm", "--entrypoint", "id", self.image, "-g"])
        return int(ids), int(gid)

    def _start_chroot(self) -> None:
        # No health-check timer: this container is never started; the check is run by hand.
        run(
            ["podman", "create", "--no-healthcheck", "--name", self.name, self.image],
            stdout=subprocess.DEVNULL,
        )
        self.root = Path(output(["podman", "mount", self.name]))
        uid, gid = self.user_ids()
        # The kernel file systems a container runtime would give it: /proc, and a /dev holding
        # only the usual character devices.
        self._mount(["-t", "proc", "proc"], self.root / "proc")
        self._mount(["-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs"], self.root / "dev")
        for device, (major, minor) in {
            "null": (1, 3),
            "zero": (1, 5),
            "full": (1, 7),
            "random": (1, 8),
            "urandom": (1, 9),
        }.items():
            os.mknod(self.root / "dev" / device, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(self.root / "dev" / device, 0o666)
        (self.root / "dev/shm").mkdir(mode=0o1777)
        os.chmod(self.root / "dev/shm", 0o1777)
        for path, content in self.files.items():
            target = self.root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            os.chown(target, uid, gid)
            target.chmod(0o400)
        argv = [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]
        self.process = subprocess.Popen(
            argv,
            env=self.image_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._enter(uid, gid),
            start_new_session=True,
        )

    def _enter(self, uid: int, gid: int) -> Callable[[], None]:
        root, workdir = str(self.root), self.config.get("WorkingDir") or "/"

        def enter() -> None:  # in the child, before exec: root, then drop to the image's user
            os.chroot(root)
            os.chdir(workdir)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

        return enter

    def _mount(self, options: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        run(["mount", *options, str(target)])
        self.mounts.append(target)

    def exec(self, argv: list[str], stdin: str = "") -> str:
        """A command in the image, as its user with its environment (e.g. the CLI)."""
        if self.in_container:
            cmd = ["podman", "exec", "--interactive", self.name, *argv]
            done = subprocess.run(
                cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        else:
            uid, gid = self.user_ids()
            done = subprocess.run(
                argv,
                input=stdin,
                env=self.image_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                preexec_fn=self._enter(uid, gid),
            )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited with {done.returncode}: {done.stdout}")
        return done.stdout

    def healthcheck(self) -> None:
        """The image's own HEALTHCHECK command, run in it as a container engine would."""
        inspect = ["podman", "image", "inspect", "--format", "{{json .HealthCheck}}", self.image]
        test = json.loads(output(inspect))["Test"]
        self.exec(test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]])

    def log_is_clean(self) -> None:
        bad = [
            line for line in self.logs().splitlines() if "[ERROR]" in line or "Traceback" in line
        ]
        assert not bad, "\n".join(bad)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def server_uid(self) -> int:
        """The real uid of the serving process (under podman, as the container sees it)."""
        if self.in_container:
            return int(output(["podman", "exec", self.name, "sh", "-c", "stat -c %u /proc/1"]))
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))

    def wait_healthy(self, url: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if (
                self.process is not None
                and self.process.poll() is not None
                and not self.in_container
            ):
                raise AssertionError(f"{self.target} exited at start:\n{self.logs()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.5)
        raise AssertionError(
            f"{self.target}: {url} did not answer 200 in {seconds:.0f} s:\n{self.logs()}"
        )

    def stop(self) -> None:
        if self.in_container:
            subprocess.run(
                ["podman", "rm", "--force", "--time", "20", self.name],
                stdout=subprocess.DEVNULL,
                check=False,
            )
            if self.process is not None:
                self.process.wait(timeout=30)
            if self.secret_dir is not None:
                shutil.rmtree(self.secret_dir, ignore_errors=True)
        else:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
            for target in reversed(self.mounts):
                if subprocess.run(["umount", str(target)]).returncode != 0:
                    run(["umount", "--lazy", str(target)])
            if self.root is not None:
                subprocess.run(
                    ["podman", "umount", self.name], stdout=subprocess.DEVNULL, check=False
                )
            subprocess.run(
                ["podman", "rm", "--force", self.name], stdout=subprocess.DEVNULL, check=False
            )
        self.log.close()


def production_env(
    target: str, port: int, public_url: str, db: Postgres | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The environment and secret files of a production boot on 127.0.0.1:port."""
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if target == "verifier":
        env = {
            "VERIFIER_BIND": f"127.0.0.1:{port}",
            "VERIFIER_WORKERS": "2",
            "VERIFIER_SECRET_KEY": secrets.token_hex(32),
            "VERIFIER_TRUSTED_PROXIES": "1",
            "VERIFIER_RATELIMIT_STORAGE_URI": redis,
        }
        return env, {}
    assert db is not None
    env = {
        "CARDSERVICE_BIND": f"127.0.0.1:{port}",
        "CARDSERVICE_WORKERS": "2",
        "CARDSERVICE_PUBLIC_URL": public_url,
        "CARDSERVICE_PROXY_HOPS": "1",
        "CARDSERVICE_DATABASE_URL": db.url(db.names[0]),
        "CARDSERVICE_KEYSTORE_DATABASE_URL": db.url(db.names[1]),
        "CARDSERVICE_RATELIMIT_STORAGE_URI": redis,
    }
    files = {}
    for name in SECRET_NAMES:
        path = f"/run/secrets/{name}"
        env[f"CARDSERVICE_{name.upper()}_FILE"] = path
        if name in ("master_key", "index_key"):
            files[path] = base64.b64encode(secrets.token_bytes(32)).decode()
        else:
            files[path] = secrets.token_urlsafe(48)
    return env, files


@contextlib.contextmanager
def boot(
    target: str, port: int, public_url: str, db: Postgres | None, use_podman: bool
) -> Iterator[Booted]:
    env, files = production_env(target, port, public_url, db)
    app = Booted(target, env, files)
    say(f"booting {app.image} on 127.0.0.1:{port}")
    started = time.monotonic()
    try:
        app.start(use_podman)
        app.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        say(f"{target} answered /healthz in {time.monotonic() - started:.1f} s")
        yield app
    finally:
        app.stop()
