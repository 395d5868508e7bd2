"""The stack's processes: its servers, each in its own session with its output in log files,
waited for until healthy and stopped; the commands it runs to completion; and the servers a
detached stack left running."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .common import ROOT, StackError
from .launchers import Command


def run_command(command: Command, stdin: str | None = None) -> str:
    """Runs ``command`` in the checkout to its end; its output, or StackError if it fails."""
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


@dataclass
class Servers:
    """The long-running processes one stack started, by name. Each runs in a new session, so
    that stopping its process group stops its workers too."""

    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[IO[bytes]] = field(default_factory=list)
    _error_logs: dict[str, Path] = field(default_factory=dict)

    def spawn(self, name: str, command: Command, log_dir: Path) -> None:
        """Starts ``command`` with its output in ``<name>.out.log`` and ``<name>.err.log``."""
        args, env = command
        out = open(log_dir / f"{name}.out.log", "ab")  # noqa: SIM115 (closed in stop())
        err = open(log_dir / f"{name}.err.log", "ab")  # noqa: SIM115
        self._files.extend((out, err))
        self._error_logs[name] = log_dir / f"{name}.err.log"
        self._processes[name] = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=err, start_new_session=True
        )

    def running(self) -> bool:
        """Whether every process started still runs."""
        return all(process.poll() is None for process in self._processes.values())

    def pid(self, name: str) -> int:
        return self._processes[name].pid

    def pids(self) -> list[int]:
        return [process.pid for process in self._processes.values()]

    def wait_healthy(
        self, name: str, url: str, context: ssl.SSLContext | None, timeout: float = 60
    ) -> None:
        """Until ``url`` answers 200; StackError, with the tail of its error log, as soon as
        any of the processes stops, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for process_name, process in self._processes.items():
                if process.poll() is not None:
                    log = self._error_logs[process_name]
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

    def stop(self) -> None:
        """SIGTERM to every process group, SIGKILL to those still there 25 s later."""
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
        self._error_logs.clear()
        for fh in self._files:
            fh.close()
        self._files.clear()


def stop_detached(pids: list[int], folder: Path) -> None:
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
