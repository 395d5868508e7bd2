"""What decoding one uploaded image costs: peak memory and time, one fresh process per image.

For each image kind (6300 x 6300 in the usual PNG modes and as baseline and progressive JPEG,
plus a 12-megapixel phone JPEG), a child process reads its own VmHWM (/proc/self/status),
runs the issuance service's photo intake (`process_photo`) or the verifier's upload decoder
(`decode_qr`) once, and reports how much VmHWM grew and how long the call took:

- ``bounded``: with the default limits (policy photo.max_decode_mb, VERIFIER_MAX_IMAGE_DECODE_MB);
- ``unbounded``: with the decode-memory limit lifted, to see what decoding would cost.

    .venv/bin/python bench/bench_image_decode.py [--target photo|verifier|both]

Run it with the code before a change on PYTHONPATH to compare (the old code has no
decode-memory limit, so both columns then show the unbounded cost).
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from PIL import Image

KINDS = {
    "PNG grey 6300x6300": ("png", "L", (6300, 6300)),
    "PNG palette 6300x6300": ("png", "P", (6300, 6300)),
    "PNG RGB 6300x6300": ("png", "RGB", (6300, 6300)),
    "PNG RGBA 6300x6300": ("png", "RGBA", (6300, 6300)),
    "PNG grey+alpha 6300x6300": ("png", "LA", (6300, 6300)),
    "PNG 16-bit grey 6300x6300": ("png", "I;16", (6300, 6300)),
    "JPEG baseline 6300x6300": ("jpeg", "baseline", (6300, 6300)),
    "JPEG progressive 6300x6300": ("jpeg", "progressive", (6300, 6300)),
    "JPEG progressive 4:4:4 6300x6300": ("jpeg", "progressive444", (6300, 6300)),
    "JPEG phone 4032x3024": ("jpeg", "baseline", (4032, 3024)),
}
UNBOUNDED = 2**40


def _write(folder: Path, name: str, kind: tuple[str, str, tuple[int, int]]) -> Path:
    form, mode, size = kind
    path = folder / (name.replace(" ", "_").replace(":", "") + "." + form)
    if form == "png":
        Image.new(mode, size).save(path, "PNG", compress_level=9)
    else:
        Image.new("RGB", size, (120, 130, 140)).save(
            path,
            "JPEG",
            progressive=mode.startswith("progressive"),
            subsampling=0 if mode.endswith("444") else 2,
        )
    return path


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _one(target: str, path: str, bounded: bool) -> None:
    """In the child: decode once, print a JSON line."""
    data = Path(path).read_bytes()
    if target == "photo":
        import flask
        from flask_babel import Babel

        from cardservice.services.photos import process_photo
        from cardservice.services.policy import load_policy

        app = flask.Flask("bench")
        Babel(app)
        policy = dict(vars(load_policy("default")))
        if not bounded:
            policy["photo_max_decode_bytes"] = UNBOUNDED
        policy["photo_max_bytes"] = UNBOUNDED  # the PNGs are small anyway; JPEGs may not be

        def run() -> object:
            with app.app_context():
                return process_photo(data, SimpleNamespace(**policy))  # type: ignore[arg-type]

    else:
        from verifier import config
        from verifier.api.images import decode_qr

        extra = {}
        if "max_decode_bytes" in inspect.signature(decode_qr).parameters:
            default_mb = config._SETTINGS["MAX_IMAGE_DECODE_MB"][1]
            extra["max_decode_bytes"] = default_mb * 2**20 if bounded else UNBOUNDED

        def run() -> object:
            return decode_qr(data, max_pixels=40_000_000, **extra)

    before = _peak_mb()
    start = time.perf_counter()
    try:
        run()
        result = "accepted"
    except Exception as exc:  # the refusal is the result being measured
        result = getattr(exc, "code", type(exc).__name__)
    seconds = time.perf_counter() - start
    print(json.dumps({"result": result, "seconds": seconds, "mb": _peak_mb() - before}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", choices=["photo", "verifier", "both"], default="both")
    parser.add_argument(
        "--one", nargs=3, metavar=("TARGET", "PATH", "BOUNDED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        _one(args.one[0], args.one[1], args.one[2] == "1")
        return
    targets = ["photo", "verifier"] if args.target == "both" else [args.target]
    with tempfile.TemporaryDirectory(prefix="bench-image-") as folder:
        paths = {name: _write(Path(folder), name, kind) for name, kind in KINDS.items()}
        for target in targets:
            print(f"\n{target}: VmHWM growth and time of one decode, fresh process each")
            print(f"{'image':34s} {'size':>8s}  {'bounded':32s} unbounded")
            for name, path in paths.items():
                cells = []
                for bounded in ("1", "0"):
                    done = subprocess.run(
                        [sys.executable, __file__, "--one", target, str(path), bounded],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    cells.append(f"{row['result']:15s} {row['mb']:5.0f} MB {row['seconds']:5.2f} s")
                size = f"{path.stat().st_size / 1024:.0f} KB"
                print(f"{name:34s} {size:>8s}  {cells[0]:32s} {cells[1]}")


if __name__ == "__main__":
    main()
