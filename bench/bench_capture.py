"""Benchmark: does the agent page read real cards from a phone camera in a dim office?

Issue 16, item 4. Targets: at least 19 of 20 frames read with the code 175 px across, at least
15 of 20 at 150 px, for a version-9 code (a typical name) and for the longest names (version 11).

    .venv/bin/python bench/bench_capture.py                  # the issue's grid, both paths
    .venv/bin/python bench/bench_capture.py --cards v9 --widths 150 --blurs 1.5 --modes capture
    .venv/bin/python bench/bench_capture.py --px-per-mm 5.77  # fixed card distance instead
    .venv/bin/python bench/bench_capture.py --px-per-mm 5.77 --pdf-dir /tmp/cards-main

For each card, code width (or card distance) and blur, bench/capture/degrade.py writes a 20-shot
y4m video of the card's printed back, degraded (tilt, blur, black at 15 %, white at 45 %, sensor
noise). Debian's Chromium plays it as its camera (--use-fake-device-for-media-stream
--use-file-for-fake-video-capture) to the agent page served by a live verifier, and
bench/capture/measure.js decodes each shot once with each capture path, in the same browser:

- ``main``: the capture of agent.js before static/capture.js (a 1280-wide stream, whole frames);
- ``capture``: static/capture.js (the highest useful resolution, a centre crop at full
  resolution, then the whole frame).

A shot counts as read only when the decoded text is the card's exact QR text. Prints one line
per video and path: frames read of 20, what each decoder read alone, the stream's size and the
median decode time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import WSGIRequestHandler, make_server

from bench.capture import degrade
from scripts.stack import free_port
from verifier import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MEASURE_JS = (Path(__file__).parent / "capture" / "measure.js").read_text()


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:
        pass


@contextmanager
def verifier_server(instance: Path) -> Iterator[str]:
    """The verifier (agent page and its static files) on a free port in STACK_PORTS."""
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "ENV": "testing",
            "SECRET_KEY": "bench-capture",
            "RATELIMIT_ENABLED": False,
            "DEFAULT_LANGUAGE": "en",
        }
    )
    server = make_server("127.0.0.1", free_port(), app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def measure(
    playwright: Any, url: str, video: degrade.Video, modes: list[str], timeout: float
) -> dict[str, dict[str, Any]]:
    """Play ``video`` as the camera and decode its shots with each capture path."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video.path}",
        ],
    )
    try:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        context.grant_permissions(["camera"], origin=url)
        page = context.new_page()
        page.goto(url)
        results = {}
        for mode in modes:
            results[mode] = page.evaluate(
                MEASURE_JS,
                {
                    "mode": mode,
                    "frames": degrade.FRAMES,
                    "timeoutMs": timeout * 1000,
                    "marker": degrade.MARKER,
                    "markerBits": degrade.MARKER_BITS,
                    "fileWidth": video.size[0],
                },
            )
        return results
    finally:
        browser.close()


def summary(result: dict[str, Any], expected: str) -> str:
    shots = result["shots"]
    read = sum(1 for s in shots.values() if s["text"] == expected)
    wrong = sum(1 for s in shots.values() if s["text"] and s["text"] != expected)
    decoders = sorted({name for s in shots.values() for name in s["each"]})
    alone = ", ".join(
        f"{name} {sum(1 for s in shots.values() if s['each'].get(name) == expected)}"
        for name in decoders
    )
    by = {}
    for s in shots.values():
        if s["text"] == expected:
            by[s["decoder"]] = by.get(s["decoder"], 0) + 1
    ms = statistics.median(s["ms"] for s in shots.values()) if shots else float("nan")
    missing = degrade.FRAMES - len(shots)
    return (
        f"{read:2d}/{degrade.FRAMES} read"
        + (f" ({wrong} WRONG)" if wrong else "")
        + (f" ({missing} shots never seen)" if missing else "")
        + f" | read by {by or '-'} | alone: {alone}"
        + f" | stream {result['width']}x{result['height']}, median {ms:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", nargs="+", default=["v9", "longest"], choices=degrade.CARDS)
    parser.add_argument("--widths", nargs="+", type=float, default=[175.0, 150.0])
    parser.add_argument("--px-per-mm", nargs="+", type=float, help="card distances instead")
    parser.add_argument("--blurs", nargs="+", type=float, default=[1.0, 1.5])
    parser.add_argument("--modes", nargs="+", default=["main", "capture"])
    parser.add_argument(
        "--frame", default="1920x1080", help="the camera's frame size (1280x720: what main asked)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per video and path")
    parser.add_argument("--keep", type=Path, help="keep the videos in this folder")
    parser.add_argument(
        "--pdf-dir",
        type=Path,
        help="cards printed earlier (degrade.py --pdf-only), e.g. by another version of the code",
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    sizes: list[tuple[str, float]] = (
        [("px/mm", d) for d in args.px_per_mm]
        if args.px_per_mm
        else [("px", w) for w in args.widths]
    )
    started = time.monotonic()
    print(f"capture bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {degrade.FRAMES} shots a video")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with verifier_server(Path(tmp) / "instance") as url:
            for kind in args.cards:
                card = (
                    degrade.load_card(args.pdf_dir, kind)
                    if args.pdf_dir
                    else degrade.printed_card(kind)
                )
                for unit, size in sizes:
                    for blur in args.blurs:
                        path = folder / f"{kind}-{size:g}{unit.replace('/', '')}-blur{blur:g}.y4m"
                        video = degrade.make_video(
                            path,
                            card,
                            blur=blur,
                            code_px=size if unit == "px" else None,
                            px_per_mm=size if unit == "px/mm" else None,
                            size=degrade.frame_size(args.frame),
                        )
                        results = measure(playwright, url, video, args.modes, args.timeout)
                        label = (
                            f"{kind:8s} code {video.code_px:3.0f} px ({video.code_mm:.1f} mm) "
                            f"blur {blur:g}"
                        )
                        for mode in args.modes:
                            print(f"{label} {mode:8s} {summary(results[mode], card.qr_text)}")
                        sys.stdout.flush()
                        if not args.keep:
                            path.unlink()
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
