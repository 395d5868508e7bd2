"""``python -m cardformat.conformance [OPTIONS] -- COMMAND ARGS...`` (docs/conformance.md).

Exit status: 0 when every result agrees, 1 when any differs, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import DEFAULT_VECTORS, KINDS, report, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cardformat.conformance",
        description="Feed every card-format test vector to a verifier command and report each "
        "result code that differs from the vector's.",
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        default=DEFAULT_VECTORS,
        help="the directory of the vector files (default: the repository's tests/vectors)",
    )
    parser.add_argument(
        "--kind",
        action="append",
        choices=sorted(KINDS),
        help="run only these kinds of vectors (repeatable; default: all)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="vectors run at once (default 1)")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per vector (default 30)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the verifier's command after --")
    outcomes = run(
        command,
        directory=args.vectors,
        kinds=args.kind or list(KINDS),
        jobs=args.jobs,
        timeout=args.timeout,
    )
    print(report(outcomes))
    return 0 if all(o.agrees for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
