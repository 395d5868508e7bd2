"""Running the images built by scripts/image.py as the apps of the reference stack
(scripts/stack.py): on the host network, with `podman run` where the machine allows it, otherwise
the image's own filesystem under chroot as the image's user.

``ImageLauncher`` is a stack launcher: the stack decides what to run (servers, command-line
tools) with which settings, as for its own virtualenv; this decides how, from the images.
Used by scripts/image.py (`boot` and `test`); see its docstring.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from stack import Command

IMAGES = {"cardservice": "localhost/cardservice:latest", "verifier": "localhost/verifier:latest"}
# The usual character devices a container runtime gives a container's /dev.
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}


def say(message: str) -> None:
    print(f"--- image: {message}", flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output goes to ours unless captured."""
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def output(cmd: list[str]) -> str:
    return run(cmd, stdout=subprocess.PIPE).stdout.strip()


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


class _Image:
    """One image as the launcher uses it: its configuration and, under chroot, its mounted
    filesystem with /proc, a minimal /dev and the stack's folder at the same path as outside."""

    def __init__(self, app: str) -> None:
        self.image = IMAGES[app]
        self.config: dict[str, Any] = json.loads(
            output(["podman", "image", "inspect", "--format", "{{json .Config}}", self.image])
        )
        self.name = f"citycard-{app}-{secrets.token_hex(4)}"
        self.root: Path | None = None
        self.mounts: list[Path] = []
        self.containers: list[str] = []
        self.ids: tuple[int, int] | None = None

    def env(self, settings: dict[str, str]) -> dict[str, str]:
        env = dict(item.split("=", 1) for item in self.config.get("Env") or [])
        return env | settings

    def entry_point(self) -> list[str]:
        return [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]

    def mount(self, folder: Path) -> Path:
        """The image's filesystem, mounted once (``podman create`` + ``podman mount``)."""
        if self.root is not None:
            return self.root
        # No health-check timer: this container is never started; the check is run by hand.
        run(
            ["podman", "create", "--no-healthcheck", "--name", self.name, self.image],
            stdout=subprocess.DEVNULL,
        )
        self.containers.append(self.name)
        self.root = Path(output(["podman", "mount", self.name]))
        self._mount(["-t", "proc", "proc"], self.root / "proc")
        self._mount(["-t", "tmpfs", "-o", "mode=0755,nosuid", "tmpfs"], self.root / "dev")
        for device, (major, minor) in DEVICES.items():
            os.mknod(self.root / "dev" / device, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(self.root / "dev" / device, 0o666)
        (self.root / "dev/shm").mkdir(mode=0o1777)
        os.chmod(self.root / "dev/shm", 0o1777)
        # The stack's folder (instance folders, secrets, its CA) where its settings name it.
        self._mount(["--bind", str(folder)], self.root / str(folder).lstrip("/"))
        return self.root

    def _mount(self, options: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        run(["mount", *options, str(target)])
        self.mounts.append(target)

    def user_ids(self) -> tuple[int, int]:
        """The image's user as numbers, from its own /etc/passwd when named."""
        if self.ids is None:
            user = str(self.config.get("User") or "0")
            name, _, group = user.partition(":")
            if name.isdigit():
                self.ids = int(name), int(group or name)
            elif self.root is None:  # not mounted (podman run): the image says
                uid, gid = (
                    output(["podman", "run", "--rm", "--entrypoint", "id", self.image, flag])
                    for flag in ("-u", "-g")
                )
                self.ids = int(uid), int(gid)
            else:
                for line in (self.root / "etc/passwd").read_text().splitlines():
                    fields = line.split(":")
                    if fields[0] == name:
                        self.ids = int(fields[2]), int(fields[3])
                if self.ids is None:
                    raise RuntimeError(f"{self.image}: user {name} is not in its /etc/passwd")
        return self.ids

    def close(self) -> None:
        for target in reversed(self.mounts):
            if subprocess.run(["umount", str(target)]).returncode != 0:
                run(["umount", "--lazy", str(target)])
        self.mounts.clear()
        if self.root is not None:
            subprocess.run(["podman", "umount", self.name], stdout=subprocess.DEVNULL, check=False)
            self.root = None
        for container in self.containers:
            subprocess.run(
                ["podman", "rm", "--force", "--time", "20", container],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        self.containers.clear()


class ImageLauncher:
    """Runs the stack's apps from the built images (a ``stack.Launcher``): each server is the
    image's entry point, each tool a command in the image, as the image's user with the image's
    environment plus the stack's settings. Use it as a context manager around the stack's life:
    leaving it unmounts and removes what it made (after ``Stack.down`` has stopped the servers).
    """

    def __init__(self, use_podman: bool) -> None:
        self.use_podman = use_podman
        self.images: dict[str, _Image] = {}

    def __enter__(self) -> ImageLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        for image in self.images.values():
            image.close()

    def image(self, app: str) -> _Image:
        if app not in self.images:
            self.images[app] = _Image(app)
        return self.images[app]

    def server(self, app: str, name: str, settings: dict[str, str], folder: Path) -> Command:
        return self._command(app, None, settings, folder, name)

    def tool(self, app: str, argv: list[str], settings: dict[str, str], folder: Path) -> Command:
        return self._command(app, argv, settings, folder, None)

    def _command(
        self,
        app: str,
        argv: list[str] | None,
        settings: dict[str, str],
        folder: Path,
        server: str | None,
    ) -> Command:
        image = self.image(app)
        root = None if self.use_podman else image.mount(folder)
        uid, gid = image.user_ids()
        _hand_over(settings, folder, uid, gid)
        if root is None:
            return self._podman_run(image, argv, settings, folder, server), dict(os.environ)
        # chroot as the image's user, then the image's working directory: what a runtime does.
        workdir = image.config.get("WorkingDir") or "/"
        command = [
            shutil.which("chroot") or "/usr/sbin/chroot",
            f"--userspec={uid}:{gid}",
            f"--groups={gid}",
            str(root),
            "env",
            f"--chdir={workdir}",
            *(argv or image.entry_point()),
        ]
        return command, image.env(settings)

    def _podman_run(
        self,
        image: _Image,
        argv: list[str] | None,
        settings: dict[str, str],
        folder: Path,
        server: str | None,
    ) -> list[str]:
        # The container's name lets server_uid find it; --rm removes it when it stops.
        name = f"{image.name}-{server or secrets.token_hex(3)}"
        image.containers.append(name)
        args = ["podman", "run", "--rm", "--name", name, "--network=host"]
        # Its HEALTHCHECK is run by hand (image.py): no systemd timer needed.
        args += ["--no-healthcheck", "--volume", f"{folder}:{folder}"]
        args += [arg for key, value in settings.items() for arg in ("--env", f"{key}={value}")]
        if argv is None:
            return [*args, image.image]
        # A tool may read its standard input (a password).
        return [*args, "--interactive", "--entrypoint", argv[0], image.image, *argv[1:]]

    def server_uid(self, app: str, name: str, pid: int) -> int:
        """The real uid serving as server ``name`` (``pid``: the process the stack started)."""
        if self.use_podman:
            container = f"{self.image(app).name}-{name}"
            return int(output(["podman", "exec", container, "stat", "-c", "%u", "/proc/1"]))
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))

    def healthcheck(self, app: str) -> list[str]:
        """The image's own HEALTHCHECK command, as an argument list."""
        inspect = ["podman", "image", "inspect", "--format", "{{json .HealthCheck}}"]
        test: list[str] = json.loads(output([*inspect, IMAGES[app]]))["Test"]
        return test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]


def _hand_over(settings: dict[str, str], folder: Path, uid: int, gid: int) -> None:
    """The files and folders the settings name inside the stack's folder (instance folder,
    secret files, CA) become the image user's, and their folders passable (not listable) for
    it, as a city's deployment mounts them for its containers."""
    for key, value in settings.items():
        path = Path(value)
        if not key.endswith(("_FILE", "_PATH")) or folder not in path.parents:
            continue
        os.chown(path, uid, gid)
        for parent in path.parents:
            if parent == folder:
                break
            parent.chmod(parent.stat().st_mode | 0o111)
