"""The coordinator's command, ``citycard-network``, as installed: its instance folder, its
sealed root key, its refusals, and the directory it publishes (verified with cardformat)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cardformat as cf
from cardformat.network import WELL_KNOWN_PATH, load_signed_directory
from tests.unit.imports import modules_loaded_by, top_level
from webguard.keyseal import MAGIC

TOOL = Path(sys.executable).with_name("citycard-network")
STRONG = "correct horse battery staple, but longer and odder 7#q"


def run(instance: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = (
        {k: v for k, v in os.environ.items() if not k.startswith("CITYCARD_NETWORK_")}
        | {"CITYCARD_NETWORK_INSTANCE_PATH": str(instance)}
        | env
    )
    return subprocess.run(
        [str(TOOL), *args], capture_output=True, text=True, env=environ, check=False, timeout=60
    )


def test_the_tool_imports_no_issuance_service_code() -> None:
    loaded = modules_loaded_by("import citycard_network.cli, citycard_network.service")
    assert "cardservice" not in top_level(loaded)


def test_found_publish_and_verify_a_network(tmp_path: Path) -> None:
    instance, out = tmp_path / "net", tmp_path / "www"
    created = run(
        instance, "init", "--code", "ROUTES", "--name", "en=Routes", "--name", "fr=Routes FR"
    )
    assert created.returncode == 0, created.stderr
    fingerprint = run(instance, "fingerprint").stdout.strip()
    assert fingerprint in created.stdout
    # The root key rests sealed (webguard.keyseal), the generated development passphrase 0600.
    assert (instance / "root.key").read_bytes().startswith(MAGIC)
    assert (instance / "root.key").stat().st_mode & 0o777 == 0o600
    assert (instance / "secrets" / "key_passphrase").stat().st_mode & 0o777 == 0o600
    assert instance.stat().st_mode & 0o777 == 0o700

    published = run(instance, "publish", "--out", str(out))
    assert published.returncode == 0, published.stderr
    data = (out / WELL_KNOWN_PATH.lstrip("/")).read_bytes()
    now = datetime.now(UTC)
    directory = cf.verify_directory(data, pinned_fingerprint=fingerprint, now=now)
    assert directory.serial == 1 and directory.members == ()
    assert directory.names == {"en": "Routes", "fr": "Routes FR"}
    assert timedelta(days=29) < directory.expires_at - now <= timedelta(days=30)
    assert timedelta(days=6) < directory.next_update - now <= timedelta(days=7)

    # A new root, endorsed by the old: a verifier that pinned the first one follows it.
    rotated = run(instance, "rotate-root")
    assert rotated.returncode == 0, rotated.stderr
    assert run(instance, "publish", "--out", str(out)).returncode == 0
    data = (out / WELL_KNOWN_PATH.lstrip("/")).read_bytes()
    previous = directory
    directory = cf.verify_directory(
        data, pinned_fingerprint=fingerprint, now=datetime.now(UTC), previous=previous
    )
    assert directory.serial == 2
    assert cf.fingerprint(directory.root_key) in rotated.stdout
    assert cf.fingerprint(directory.root_key) != fingerprint


def test_production_refuses_a_missing_or_weak_passphrase(tmp_path: Path) -> None:
    instance = tmp_path / "net"

    def init(**passphrase: str) -> subprocess.CompletedProcess[str]:
        args = ("init", "--code", "ROUTES", "--name", "x")
        return run(instance, *args, CITYCARD_NETWORK_ENV="production", **passphrase)

    missing = init()
    assert missing.returncode == 2
    assert "CITYCARD_NETWORK_KEY_PASSPHRASE is not set" in missing.stderr
    assert "Traceback" not in missing.stderr
    weak = init(CITYCARD_NETWORK_KEY_PASSPHRASE="password")
    assert weak.returncode == 2 and "too weak" in weak.stderr
    assert not (instance / "root.key").exists()
    ok = init(CITYCARD_NETWORK_KEY_PASSPHRASE=STRONG)
    assert ok.returncode == 0, ok.stderr
    assert not (instance / "secrets").exists()  # nothing generated in production
    # Listing members needs no passphrase: the root key can stay offline.
    assert run(instance, "members", "list", CITYCARD_NETWORK_ENV="production").returncode == 0
    wrong = run(
        instance,
        "publish",
        "--out",
        str(tmp_path / "www"),
        CITYCARD_NETWORK_ENV="production",
        CITYCARD_NETWORK_KEY_PASSPHRASE=STRONG + "x",
    )
    assert wrong.returncode == 1
    assert "cannot open the network's root key" in wrong.stderr
    assert STRONG not in wrong.stderr + wrong.stdout


def test_clear_errors_and_no_change_on_refusal(tmp_path: Path) -> None:
    instance = tmp_path / "net"
    assert "run `citycard-network init` first" in run(instance, "members", "list").stderr
    assert run(instance, "init", "--code", "ROUTES", "--name", "Routes").returncode == 0
    again = run(instance, "init", "--code", "OTHER", "--name", "Other")
    assert again.returncode == 1 and "already holds a network" in again.stderr
    for args, message in [
        (("members", "suspend", "FR SXB", "--reason", "x"), "not a member of ROUTES"),
        (("members", "remove", "FR SXB", "--reason", " "), "give a reason"),
        (
            ("members", "add", "--metadata-url", "ftp://x/", "--fingerprint", "AB" * 32),
            "http(s) URL",
        ),
        (
            ("members", "add", "--metadata-url", "http://127.0.0.1:9/", "--fingerprint", "12"),
            "64 hexadecimal digits",
        ),
        (("publish", "--out", str(tmp_path), "--next-update-days", "40"), "before expiry"),
    ]:
        result = run(instance, *args)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    state = (instance / "network.json").read_text()
    assert '"serial": 0' in state and '"history": []' in state


@pytest.mark.parametrize("bad", ["lower-case", "X", "TOO LONG WITH SPACES"])
def test_network_codes_are_checked(tmp_path: Path, bad: str) -> None:
    result = run(tmp_path / "net", "init", "--code", bad, "--name", "x")
    assert result.returncode == 1 and "network code" in result.stderr


def test_an_interrupted_rotation_is_completed(tmp_path: Path) -> None:
    """The state names the new root but the key was not yet moved into place: publish takes
    the new key, as rotate_root's order of writes promises."""
    from citycard_network import service
    from citycard_network.state import StateStore, write_atomically
    from webguard.keyseal import KeySealer

    instance = tmp_path / "net"
    assert run(instance, "init", "--code", "ROUTES", "--name", "Routes").returncode == 0
    passphrase = (instance / "secrets" / "key_passphrase").read_text().strip().encode()
    store = StateStore(instance)
    new = cf.generate_key()
    write_atomically(store.next_key_path, KeySealer(passphrase).seal(new), mode=0o600)
    with store.transaction() as state:
        state.root_key = cf.public_key_bytes(new)
    publication = service.publish(
        store, out=tmp_path / "www", passphrase=passphrase, now=datetime.now(UTC)
    )
    assert publication.directory.root_key == cf.public_key_bytes(new)
    assert not store.next_key_path.exists()
    data = publication.path.read_bytes()
    assert load_signed_directory(data, pinned_fingerprint=cf.fingerprint(new)).serial == 1


def test_a_damaged_state_file_is_reported_not_a_traceback(tmp_path: Path) -> None:
    instance = tmp_path / "net"
    assert run(instance, "init", "--code", "ROUTES", "--name", "Routes").returncode == 0
    state = (instance / "network.json").read_text()
    (instance / "network.json").write_text(state.replace('"history": []', '"history": [{}]'))
    result = run(instance, "members", "list")
    assert result.returncode == 1
    assert "the network's state is damaged" in result.stderr and "Traceback" not in result.stderr
