#!/usr/bin/env python3
"""Build and boot the container images without a Docker engine or a registry (run as root).

    scripts/image.py build      the base (cached), then the cardservice and verifier images
    scripts/image.py boot [--https-port N] [--verifier-port N]
                                the reference stack (scripts/stack.py) with its apps from the
                                images, until interrupted; prints its URLs and staff sign-in
    scripts/image.py test       build, then run that stack and check it; the last line is
                                "image: N passed, M failed", and the exit status says the same

The base is a stand-in for python:3.11-slim-bookworm made from Debian packages by
scripts/image-base.sh, tagged with a hash of that recipe: it is rebuilt only when the recipe (or
the Debian mirror) changes. podman builds the Dockerfile with chroot isolation and host
networking, so neither a container runtime nor a network namespace is needed to build.

The images run as the apps of the reference stack, behind its nginx over HTTPS (one nginx
configuration, config/nginx/citycard.conf): both cardservice instances and the verifier are the
images' entry points, and the stack's command-line steps (migrations, city, staff, the
verifier's pin) the images' own tools. That uses `podman run` where the machine allows it. Where
it does not (no usable cgroups or rlimits, as in some sandboxes), the image's own filesystem is
mounted (`podman create` + `podman mount`) and its commands run under chroot as the image's
user, with the image's environment and working directory: the same files and the same
processes, without a container (scripts/image_boot.py).

Settings from the environment: TEST_POSTGRES_URL (the server where the stack makes a fresh pair
of databases and drops them afterwards; default the stack's, STACK_POSTGRES_URL or
postgres@127.0.0.1:5432), TEST_REDIS_URL (rate limits),
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

from image_boot import IMAGES, ImageLauncher, output, podman_run_works, run, say
from stack import Stack, StackError

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
    stack: Stack, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, http.client.HTTPMessage, str]:
    """One request to the stack's nginx over HTTPS, trusting the stack's CA and nothing else."""
    connection = http.client.HTTPSConnection(
        stack.host, stack.https_port, timeout=30, context=stack.ssl_context()
    )
    try:
        connection.request(method, path, body=body.encode() or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode(errors="replace")
    finally:
        connection.close()


def sign_in(stack: Stack, username: str, password: str) -> None:
    """The counter's sign-in as a browser does it through nginx: form, CSRF token, cookie.

    Like a browser told `Referrer-Policy: same-origin` but stripping referrers anyway, it sends
    Origin and no Referer. The session cookie is Secure: it is carried here by hand.
    """
    base = {"Accept-Language": "en"}
    status, headers, page = request(stack, "GET", "/login", base)
    assert status == 200, f"GET /login: {status}"
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])
    parser = _FormFields()
    parser.feed(page)
    assert parser.fields.get("csrf_token"), "the sign-in page has no CSRF token"
    form = {**parser.fields, "username": username, "password": password}
    status, headers, _ = request(
        stack,
        "POST",
        "/login",
        {
            **base,
            "Cookie": cookie,
            "Origin": stack.url,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        urllib.parse.urlencode(form),
    )
    assert status == 302, f"POST /login answered {status}, not a redirect into the counter"
    cookie = "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []) or cookie
    landing = urllib.parse.urlsplit(headers["Location"]).path
    status, _, page = request(stack, "GET", landing, {**base, "Cookie": cookie})
    assert status == 200, f"GET {landing} after sign-in: {status}"
    if landing == "/login/password":
        # A password the CLI set is replaced at the first sign-in, before any staff page opens.
        parser = _FormFields()
        parser.feed(page)
        renewed = password + " renewed"
        form = {**parser.fields, "password": renewed, "confirm": renewed}
        status, headers, _ = request(
            stack,
            "POST",
            landing,
            {
                **base,
                "Cookie": cookie,
                "Origin": stack.url,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            urllib.parse.urlencode(form),
        )
        assert status == 302, f"POST {landing} answered {status}, not a redirect"
        cookie = (
            "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []) or cookie
        )
        landing = urllib.parse.urlsplit(headers["Location"]).path
        status, _, page = request(stack, "GET", landing, {**base, "Cookie": cookie})
        assert status == 200, f"GET {landing} after the new password: {status}"
    assert "Signed in as" in page and username in page, (
        f"{landing} does not show {username} signed in"
    )


def healthy_through_nginx(stack: Stack) -> None:
    for url in (stack.url, stack.verifier_url):
        with urllib.request.urlopen(
            f"{url}/healthz", timeout=10, context=stack.ssl_context()
        ) as response:
            assert response.status == 200, f"{url}/healthz: {response.status}"


def image_stack(launcher: ImageLauncher) -> Stack:
    """The reference stack with its apps from the images, on TEST_POSTGRES_URL's server and
    TEST_REDIS_URL (fresh databases, dropped by ``down``)."""
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    if postgres_url:
        return Stack(launcher=launcher, redis_url=redis_url, postgres_url=postgres_url)
    return Stack(launcher=launcher, redis_url=redis_url)


def test() -> int:
    results: list[tuple[str, str | None]] = []

    def check(name: str, body: Callable[[], None]) -> None:
        try:
            body()
        except (AssertionError, OSError, subprocess.CalledProcessError, StackError) as exc:
            results.append((name, str(exc) or type(exc).__name__))
            print(f"FAILED {name}: {exc}", flush=True)
        else:
            results.append((name, None))
            print(f"passed {name}", flush=True)

    started = time.monotonic()
    base = build()
    say(f"built in {time.monotonic() - started:.0f} s")
    use_podman = podman_run_works(IMAGES["verifier"])
    with ImageLauncher(use_podman) as launcher:
        stack = image_stack(launcher)
        try:
            # Migrations, city, staff accounts and the verifier's pin run as the images' own
            # command-line tools; both cardservice instances and the verifier are the images'
            # entry points, behind the stack's nginx.
            check("the stack starts from both images behind nginx", lambda: _up(stack))
            if stack.started_in:
                say(f"stack up in {stack.started_in:.1f} s")
                _check_stack(check, stack, launcher, base)
        finally:
            stack.down()
    failed = [name for name, error in results if error]
    say(f"total {time.monotonic() - started:.0f} s")
    print(f"image: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


def _up(stack: Stack) -> None:
    stack.up()


def _check_stack(
    check: Callable[[str, Callable[[], None]], None],
    stack: Stack,
    launcher: ImageLauncher,
    base: str,
) -> None:
    def migrated() -> None:
        for name in stack.databases:
            assert stack.database_rows(name, "SELECT version_num FROM alembic_version"), (
                f"{name} unmigrated"
            )

    def image_healthchecks() -> None:
        for name in stack.server_names:
            app = name.partition("-")[0]
            stack.run_tool(app, launcher.healthcheck(app), stack.server_settings(name))

    def runs_as_image_users() -> None:
        expected = {"cardservice": 10001, "verifier": 10002}
        for name in stack.server_names:
            app = name.partition("-")[0]
            uid = launcher.server_uid(app, name, stack.server_pid(name))
            assert uid == expected[app], f"{name} serves as uid {uid}, not {expected[app]}"

    def host_ca_not_in_image() -> None:
        # The build mounted this machine's CA bundle over the image's: it must not stay.
        digests = []
        for image in (base, IMAGES["cardservice"]):
            with image_rootfs(image) as rootfs:
                bundle = (rootfs / BUILD_CA_PATH.lstrip("/")).read_bytes()
                digests.append(hashlib.sha256(bundle).hexdigest())
        assert digests[0] == digests[1], "the image's CA bundle is not its base's own"

    def logs_clean() -> None:
        bad = [
            f"{log.name}: {line}"
            for log in sorted(stack.log_dir.glob("*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if "[ERROR]" in line or "Traceback" in line or "[emerg]" in line
        ]
        assert not bad, "\n".join(bad)

    check("cardservice: the image's migrations ran on both databases", migrated)
    check(
        "/healthz 200 through nginx over HTTPS (counter and verifier)",
        lambda: healthy_through_nginx(stack),
    )
    check("each instance passes its image's HEALTHCHECK", image_healthchecks)
    check("they serve as the images' users (10001, 10002)", runs_as_image_users)
    check("cardservice: the host's CA bundle is not in the image", host_ca_not_in_image)
    check(
        "sign-in through nginx over HTTPS (Origin, no Referer) of a user the image made",
        lambda: sign_in(stack, "clerk", stack.passwords["clerk"]),
    )
    check("no error or traceback in any log", logs_clean)


@contextlib.contextmanager
def image_rootfs(image: str) -> Iterator[Path]:
    path = Path(output(["podman", "image", "mount", image]))
    try:
        yield path
    finally:
        subprocess.run(
            ["podman", "image", "unmount", image], stdout=subprocess.DEVNULL, check=False
        )


def serve(https_port: int, verifier_port: int) -> int:
    """The reference stack from the images, until interrupted (what `test` checks, for a person)."""
    with ImageLauncher(podman_run_works(IMAGES["verifier"])) as launcher:
        stack = image_stack(launcher)
        stack.https_port, stack.verifier_port = https_port, verifier_port
        try:
            stack.up()
            print(stack.describe(), flush=True)
            say("serving; interrupt (Ctrl-C or SIGTERM) to stop and clean up")
            while stack.running():
                time.sleep(0.5)
            say(f"a server stopped: see {stack.log_dir}")
            return 1
        finally:
            stack.down()


def _interrupt(*_: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every context manager above cleans up what it started.
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("base", help="the local Debian base image (cached)")
    commands.add_parser("build", help="the base, then the cardservice and verifier images")
    boot_parser = commands.add_parser(
        "boot", help="the reference stack with the images' apps, until interrupted"
    )
    boot_parser.add_argument("--https-port", type=int, default=0, help="default: a free port")
    boot_parser.add_argument("--verifier-port", type=int, default=0, help="default: a free port")
    commands.add_parser("test", help="build, run the stack from the images, check it")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: podman's image store, mounts and chroot need it")
    for tool in ("podman", "debootstrap", "nginx"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is missing: run scripts/system-packages.sh")
    signal.signal(signal.SIGTERM, _interrupt)
    if args.command == "base":
        print(base_image())
    elif args.command == "build":
        build()
    elif args.command == "boot":
        return serve(args.https_port, args.verifier_port)
    else:
        return test()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; cleaned up")
        sys.exit(130)
