"""A real IPP Everywhere printer for tests: Debian's `ippeveprinter` (cups-ipp-utils).

ippeveprinter advertises itself over DNS-SD through Avahi and stops when it cannot reach the
D-Bus system bus; the test machine has no system bus, so a private `dbus-daemon` is started
for it and handed over as DBUS_SYSTEM_BUS_ADDRESS (Avahi itself is absent: ippeveprinter then
just goes unadvertised, which a test printer should be). Jobs are kept in a spool folder (-k),
so a test can compare what the printer received with what was sent.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.stack import free_port


@dataclass(frozen=True)
class TestPrinter:
    uri: str
    spool: Path

    def documents(self) -> list[Path]:
        return sorted(p for p in self.spool.iterdir() if p.suffix == ".pdf")


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise RuntimeError(f"{name} is missing: run scripts/system-packages.sh")
    return path


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ippeveprinter exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("ippeveprinter did not start listening")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def ippeveprinter(
    folder: Path, *, duplex: bool = True, color: bool = True
) -> Iterator[TestPrinter]:
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / "spool"
    spool.mkdir(exist_ok=True)
    bus = folder / "bus"
    dbus = subprocess.Popen(
        [
            _tool("dbus-daemon"),
            "--session",
            f"--address=unix:path={bus}",
            "--nofork",
            "--nopidfile",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    printer = None
    try:
        deadline = time.monotonic() + 10
        while not bus.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        port = free_port()
        args = [
            _tool("ippeveprinter"),
            "-p",
            str(port),
            "-n",
            "localhost",
            "-r",
            "off",
            "-f",
            "application/pdf",
            "-k",
            "-d",
            str(spool),
        ]
        if duplex:
            args.append("-2")
        if color:
            args += ["-s", "10,10"]  # a colour speed makes the printer a colour one
        args.append("Test Card Printer")
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}"}
        printer = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder
        )
        _wait_for_port(port, printer, time.monotonic() + 15)
        yield TestPrinter(uri=f"ipp://127.0.0.1:{port}/ipp/print", spool=spool)
    finally:
        if printer is not None:
            _stop(printer)
        _stop(dbus)
