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

This file is the command line; the parts are in scripts/stackparts/, by concern: ``deployment``
(``Stack``: starting and stopping), ``layout`` (addresses, folders, every server's settings),
``processes``, ``launchers``, ``nginx``, ``certificates``, ``postgres``, ``common``.

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
import signal
import sys
import time
from pathlib import Path

# The parts are imported as the package scripts.stackparts however this file is reached: as
# scripts.stack (the tests, bench/), as `stack` (the scripts beside it) or run as a script. So the
# checkout must be on the path in the last two cases, where only scripts/ is.
if not __package__:
    sys.path.append(str(Path(__file__).resolve().parents[1]))

from scripts.stackparts.certificates import make_certificates
from scripts.stackparts.common import HOST, ROOT, StackError, free_port
from scripts.stackparts.deployment import Stack
from scripts.stackparts.launchers import Command, Launcher, VenvLauncher
from scripts.stackparts.layout import OidcClient

# What the other scripts, the tests and bench/ import from here.
__all__ = [
    "HOST",
    "Command",
    "Launcher",
    "OidcClient",
    "Stack",
    "StackError",
    "VenvLauncher",
    "free_port",
    "main",
    "make_certificates",
]

DEFAULT_STATE = ROOT / "instance" / "stack.json"


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
