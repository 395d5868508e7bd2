#!/usr/bin/env python3
"""Build and boot the container images without a Docker engine or a registry (run as root).

    scripts/image.py build      the base (cached), then the cardservice and verifier images
    scripts/image.py boot [cardservice|verifier] [--port N] [--public-url URL]
                                boot one against the test PostgreSQL, print its address, serve
                                until interrupted (for a reverse proxy to be put in front)
    scripts/image.py test       build, boot both, check them; the last line is
                                "image: N passed, M failed", and the exit status says the same

The base is a stand-in for python:3.11-slim-bookworm made from Debian packages by
scripts/image-base.sh, tagged with a hash of that recipe: it is rebuilt only when the recipe (or
the Debian mirror) changes. podman builds the Dockerfile with chroot isolation and host
networking, so neither a container runtime nor a network namespace is needed to build.

Booting uses `podman run` where the machine allows it. Where it does not (no usable cgroups or
rlimits, as in some sandboxes), the image's own filesystem is mounted (`podman create` +
`podman mount`) and its entry point runs under chroot as the image's user, with the image's
environment and working directory: the same files and the same process, without a container.

Settings from the environment: TEST_POSTGRES_URL (the server where a fresh pair of databases is
made and dropped afterwards; default postgres@127.0.0.1:5432), TEST_REDIS_URL (rate limits),
PIP_INDEX_URL / PIP_TRUSTED_HOST / PIP_CERT or pip's own configuration (how pip reaches the
package index from the build; read at build time, never written into the repository or the image).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import html.parser
import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from image_boot import IMAGES, Postgres, boot, free_port, output, podman_run_works, run, say

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "scripts" / "image-base.sh"
RELEASE = "bookworm"
BASE_REPO = "localhost/citycard-base"
# Every image built from the local base carries this label (set on import), so pruning the
# superseded layers of earlier builds touches nothing else in the machine's image store.
BASE_LABEL = "org.citycard.local-base"
# The Dockerfile's build stage, tagged so that its layers are the cache of the next build rather
# than untagged leftovers that pruning would remove.
BUILD_CACHE = "localhost/citycard-build:latest"
# Where pip's certificate bundle is mounted during the build: the path Debian's ca-certificates
# uses, so the image's own bundle is hidden while a RUN step runs and is back afterwards.
BUILD_CA_PATH = "/etc/ssl/certs/ca-certificates.crt"


# --- the base image -------------------------------------------------------------------------


def apt_mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror this machine's apt uses for RELEASE."""
    found: dict[str, str] = {}
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in Path(path).read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] != "#"
            )
            uris = fields.get("URIs", "").split()
            for suite in fields.get("Suites", "").split():
                if uris:
                    found.setdefault(suite, uris[0])
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        with contextlib.suppress(FileNotFoundError):
            for line in Path(path).read_text().splitlines():
                words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
                if len(words) >= 3 and words[0] == "deb":
                    found.setdefault(words[2], words[1])
    mirror = found.get(RELEASE, "http://deb.debian.org/debian")
    security = found.get(f"{RELEASE}-security", "http://deb.debian.org/debian-security")
    return mirror, security


def base_image() -> str:
    """The local base image, built only when its recipe or the mirrors changed."""
    mirror, security = apt_mirrors()
    digest = hashlib.sha256(RECIPE.read_bytes() + f"\n{mirror}\n{security}".encode()).hexdigest()
    tag = f"{BASE_REPO}:{RELEASE}-{digest[:12]}"
    if subprocess.run(["podman", "image", "exists", tag]).returncode == 0:
        say(f"base {tag} (cached)")
        return tag
    say(f"base {tag}: debootstrap {RELEASE} from {mirror}")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="citycard-base-", dir="/var/tmp"))
    try:
        run(["bash", str(RECIPE), str(workdir / "rootfs"), tag, mirror, security])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run(["podman", "tag", tag, f"{BASE_REPO}:{RELEASE}"])
    # Earlier recipes' bases are no longer used by anything this script builds.
    for old in output(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPO]
    ).split():
        if old not in (tag, f"{BASE_REPO}:{RELEASE}"):
            subprocess.run(["podman", "untag", old], check=False)
    say(f"base built in {time.monotonic() - started:.0f} s")
    return tag


# --- building -------------------------------------------------------------------------------


def _pip_setting(name: str) -> str:
    """PIP_<NAME> from the environment, else pip's own configuration, else empty."""
    value = os.environ.get("PIP_" + name.upper().replace("-", "_"), "")
    if value:
        return value
    got = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", f"global.{name}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return got.stdout.strip() if got.returncode == 0 else ""


def pip_build_options() -> list[str]:
    """Build arguments (and the CA mount) that let pip in the build reach this machine's index."""
    options: list[str] = []
    for name in ("index-url", "trusted-host"):
        value = _pip_setting(name)
        # A file:// index is on this machine's disk, which the build cannot see.
        if value and not value.startswith("file:"):
            options += ["--build-arg", f"PIP_{name.upper().replace('-', '_')}={value}"]
    cert = _pip_setting("cert")
    if cert:
        # Mounted for the RUN steps only: a volume is never part of a committed layer.
        options += ["--volume", f"{Path(cert).resolve()}:{BUILD_CA_PATH}:ro"]
        options += ["--build-arg", f"PIP_CERT={BUILD_CA_PATH}"]
    return options


def build() -> str:
    base = base_image()
    common = [
        "podman",
        "build",
        "--isolation=chroot",
        "--network=host",
        "--layers",
        "--format=docker",
        "--build-arg",
        f"BASE_IMAGE={base}",
        *pip_build_options(),
    ]
    for target, tag in {"build": BUILD_CACHE, **IMAGES}.items():
        say(f"podman build --target {target} -t {tag}")
        started = time.monotonic()
        run([*common, "--target", target, "-t", tag, str(ROOT)])
        say(f"{tag} built in {time.monotonic() - started:.0f} s")
    # Layers of earlier builds that no tag uses any more (ours only: they carry BASE_LABEL), so
    # a long-lived CI machine does not fill its disk one build at a time.
    subprocess.run(
        ["podman", "image", "prune", "--force", "--filter", f"label={BASE_LABEL}"],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    return base


# --- checks ---------------------------------------------------------------------------------


class _FormFields(html.parser.HTMLParser):
    """The named inputs of a page (the sign-in form's hidden fields)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""


def request(
    port: int, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, http.client.HTTPMessage, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body.encode() or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        connection.close()


def sign_in(port: int, username: str, password: str) -> None:
    """The counter's sign-in as a browser behind the TLS proxy does it: form, CSRF token, cookie.

    The proxy terminates TLS and says so with X-Forwarded-Proto (CARDSERVICE_PROXY_HOPS=1); the
    session cookie is Secure, so it is carried here by hand. Like a browser told
    `Referrer-Policy: same-origin` but stripping referrers anyway, it sends Origin and no Referer.
    """
    origin = f"https://127.0.0.1:{port}"
    base = {"X-Forwarded-Proto": "https", "Accept-Language": "en"}
    status, headers, page = request(port, "GET", "/login", base)
    assert status == 200, f"GET /login: {status}"
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
    parser = _FormFields()
    parser.feed(page)
    assert parser.fields.get("csrf_token"), "the sign-in page has no CSRF token"
    form = {**parser.fields, "username": username, "password": password}
    status, headers, _ = request(
        port,
        "POST",
        "/login",
        {
            **base,
            "Cookie": cookie,
            "Origin": origin,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        urllib.parse.urlencode(form),
    )
    assert status == 302, f"POST /login answered {status}, not a redirect into the counter"
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []) or cookie
    landing = urllib.parse.urlsplit(headers["Location"]).path
    status, _, page = request(port, "GET", landing, {**base, "Cookie": cookie})
    assert status == 200, f"GET {landing} after sign-in: {status}"
    assert "Signed in as" in page and username in page, (
        f"{landing} does not show {username} signed in"
    )


def test() -> int:
    results: list[tuple[str, str | None]] = []

    def check(name: str, body: Callable[[], None]) -> None:
        try:
            body()
        except (AssertionError, OSError, subprocess.CalledProcessError) as exc:
            results.append((name, str(exc) or type(exc).__name__))
            print(f"FAILED {name}: {exc}", flush=True)
        else:
            results.append((name, None))
            print(f"passed {name}", flush=True)

    started = time.monotonic()
    base = build()
    say(f"built in {time.monotonic() - started:.0f} s")
    use_podman = podman_run_works(IMAGES["verifier"])
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(Postgres())
        port = free_port()
        app = stack.enter_context(boot("cardservice", port, "https://127.0.0.1", db, use_podman))

        def migrated() -> None:
            assert "Running upgrade" in app.logs(), "boot.sh did not run the migrations"
            for name in db.names:
                assert db.psql("SELECT version_num FROM alembic_version", name), (
                    f"{name} unmigrated"
                )

        def runs_as_image_user() -> None:
            assert app.server_uid() == 10001, f"serving as uid {app.server_uid()}, not 10001"

        def host_ca_not_in_image() -> None:
            # The build mounted this machine's CA bundle over the image's: it must not stay.
            digests = []
            for image in (base, IMAGES["cardservice"]):
                with image_rootfs(image) as rootfs:
                    bundle = (rootfs / BUILD_CA_PATH.lstrip("/")).read_bytes()
                    digests.append(hashlib.sha256(bundle).hexdigest())
            assert digests[0] == digests[1], "the image's CA bundle is not its base's own"

        def staff_user_signs_in() -> None:
            password = secrets.token_urlsafe(18)
            created = app.exec(
                [
                    "cardservice",
                    "users",
                    "create",
                    "imageclerk",
                    "--role",
                    "clerk",
                    "--password-stdin",
                ],
                stdin=password + "\n",
            )
            assert "created" in created, created
            sign_in(port, "imageclerk", password)

        check("cardservice: migrations ran on both databases", migrated)
        check("cardservice: /healthz 200, and the image's HEALTHCHECK passes", app.healthcheck)
        check("cardservice: serves as the image's user (uid 10001)", runs_as_image_user)
        check("cardservice: the host's CA bundle is not in the image", host_ca_not_in_image)
        check("cardservice: users create, then sign-in with the CSRF token", staff_user_signs_in)
        check("cardservice: no error or traceback in its log", app.log_is_clean)
    with boot("verifier", free_port(), "", None, use_podman) as verifier:
        check("verifier: /healthz 200, and the image's HEALTHCHECK passes", verifier.healthcheck)
        check(
            "verifier: serves as the image's user (uid 10002)",
            lambda: _assert(
                verifier.server_uid() == 10002, f"serving as uid {verifier.server_uid()}, not 10002"
            ),
        )
        check("verifier: no error or traceback in its log", verifier.log_is_clean)
    failed = [name for name, error in results if error]
    say(f"total {time.monotonic() - started:.0f} s")
    print(f"image: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


def _assert(condition: bool, message: str) -> None:
    assert condition, message


@contextlib.contextmanager
def image_rootfs(image: str) -> Iterator[Path]:
    path = Path(output(["podman", "image", "mount", image]))
    try:
        yield path
    finally:
        subprocess.run(
            ["podman", "image", "unmount", image], stdout=subprocess.DEVNULL, check=False
        )


def serve(target: str, port: int, public_url: str, staff: str | None) -> int:
    """Boot one image and keep it up until interrupted, for a proxy to be put in front."""
    use_podman = podman_run_works(IMAGES[target])
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(Postgres()) if target == "cardservice" else None
        app = stack.enter_context(boot(target, port, public_url, db, use_podman))
        if staff:
            name, _, role = staff.partition(":")
            print(
                app.exec(
                    [
                        "cardservice",
                        "users",
                        "create",
                        name,
                        "--role",
                        role or "clerk",
                        "--password-stdin",
                    ],
                    stdin=os.environ["IMAGE_STAFF_PASSWORD"] + "\n",
                ).strip(),
                flush=True,
            )
        # The one line a launcher reads to put its proxy in front.
        print(f"{target}=http://127.0.0.1:{port}", flush=True)
        say("serving; its log follows; interrupt (Ctrl-C or SIGTERM) to stop and clean up")
        shown = 0
        while True:
            text = app.logs()
            print(text[shown:], end="", flush=True)
            shown = len(text)
            if app.process is not None and app.process.poll() is not None:
                say(f"{target} exited with status {app.process.returncode}")
                return 1
            time.sleep(0.5)


def _interrupt(*_: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every context manager above cleans up what it started.
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("base", help="the local Debian base image (cached)")
    commands.add_parser("build", help="the base, then the cardservice and verifier images")
    boot_parser = commands.add_parser("boot", help="boot an image until interrupted")
    boot_parser.add_argument("target", nargs="?", choices=sorted(IMAGES), default="cardservice")
    boot_parser.add_argument("--port", type=int, default=0, help="default: a free port")
    boot_parser.add_argument("--public-url", default="https://localhost")
    boot_parser.add_argument(
        "--staff",
        metavar="NAME[:ROLE]",
        help="create this staff user (clerk unless a role is given) with $IMAGE_STAFF_PASSWORD",
    )
    commands.add_parser("test", help="build, boot both images and check them")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: podman's image store, mounts and chroot need it")
    for tool in ("podman", "debootstrap", "psql"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is missing: run scripts/system-packages.sh")
    if args.command == "boot" and args.staff:
        if args.target != "cardservice":
            parser.error("--staff is for the cardservice image")
        if not os.environ.get("IMAGE_STAFF_PASSWORD"):
            parser.error("--staff needs the password in IMAGE_STAFF_PASSWORD")
    signal.signal(signal.SIGTERM, _interrupt)
    if args.command == "base":
        print(base_image())
    elif args.command == "build":
        build()
    elif args.command == "boot":
        return serve(args.target, args.port or free_port(), args.public_url, args.staff)
    else:
        return test()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; cleaned up")
        sys.exit(130)
