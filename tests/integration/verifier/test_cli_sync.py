"""`verifier partners ...` and `verifier sync` against fake cities over real HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from cardformat import Status, generate_key, sign_metadata

from .helpers import FakeIssuer, pin, verify


def test_add_accepts_any_spelling_of_the_fingerprint(serve_issuer: Any, runner: Any) -> None:
    issuer = serve_issuer()
    loose = issuer.fingerprint.replace(" ", "").lower()
    result = pin(runner, issuer, fingerprint=loose)
    assert result.exit_code == 0, result.output
    assert "Pinned FR SXB" in result.output
    assert "1/1 status lists updated" in result.output


def test_add_refuses_a_fingerprint_mismatch_and_shows_both(
    serve_issuer: Any, runner: Any, instance: Path
) -> None:
    issuer = serve_issuer()
    wrong = serve_issuer("PT LIS", {"pt": "Lisboa"}).fingerprint
    result = pin(runner, issuer, fingerprint=wrong)
    assert result.exit_code != 0
    assert "fingerprint mismatch" in result.output
    assert wrong in result.output
    assert issuer.fingerprint in result.output
    assert not (instance / "trust.json").exists()


def test_add_refuses_garbage_and_unreachable(serve_issuer: Any, runner: Any) -> None:
    issuer = serve_issuer()
    result = pin(runner, issuer, fingerprint="not a fingerprint")
    assert result.exit_code != 0 and "invalid fingerprint" in result.output
    issuer.docs["/.well-known/citycard/issuer"] = b"\xa0garbage"
    result = pin(runner, issuer)
    assert result.exit_code != 0 and "does not verify" in result.output
    result = pin(runner, issuer, url="file:///etc/passwd")
    assert result.exit_code != 0 and "not an http(s) URL" in result.output
    result = pin(runner, issuer, url="http://127.0.0.1:9/.well-known/citycard/issuer")
    assert result.exit_code != 0 and "cannot fetch" in result.output


def test_add_twice_is_refused(city: FakeIssuer, runner: Any) -> None:
    result = pin(runner, city)
    assert result.exit_code != 0
    assert "already pinned" in result.output


def test_list_and_remove(city: FakeIssuer, runner: Any, client: Any, clock: Any) -> None:
    result = runner.invoke(args=["partners", "list"])
    assert result.exit_code == 0
    assert "FR SXB" in result.output
    assert city.fingerprint in result.output
    assert "fr: Strasbourg" in result.output
    assert f"key {city.active.kid.hex()}: active" in result.output
    assert "status list 0: issued" in result.output
    assert "STALE" not in result.output
    clock.advance(days=8)
    stale = runner.invoke(args=["partners", "list"]).output
    assert "status list 0: issued" in stale and "STALE" in stale

    text, _ = city.card(now=clock())
    result = runner.invoke(args=["partners", "remove", "frsxb"])
    assert result.exit_code == 0, result.output
    assert "Removed FR SXB" in result.output
    assert verify(client, text)["result"] == "unknown_issuer"
    assert runner.invoke(args=["partners", "remove", "FR SXB"]).exit_code != 0
    assert "No partner" in runner.invoke(args=["partners", "list"]).output


def test_sync_with_no_partner(runner: Any) -> None:
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0
    assert "No partner is pinned" in result.output


def test_sync_picks_up_a_new_serial_and_a_revocation(
    city: FakeIssuer, runner: Any, client: Any, clock: Any
) -> None:
    text, card = city.card(now=clock())
    city.set_status(card.status_index, Status.REVOKED)
    clock.advance(hours=1)
    city.publish(clock())
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert f"FR SXB: ok, serial {city.serial}, 1/1 status lists updated" in result.output
    assert verify(client, text)["result"] == "revoked"


def test_sync_refuses_metadata_rollback_and_keeps_the_last_good_copy(
    city: FakeIssuer, runner: Any, client: Any, clock: Any
) -> None:
    old_metadata = city.docs["/.well-known/citycard/issuer"]
    clock.advance(minutes=5)
    city.publish(clock())
    assert runner.invoke(args=["sync"]).exit_code == 0
    city.docs["/.well-known/citycard/issuer"] = old_metadata  # replayed: lower serial
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "rollback" in result.output
    assert f"serial {city.serial}" in result.output  # still on the newer copy
    text, _ = city.card(now=clock())
    assert verify(client, text)["result"] == "valid"


def test_sync_refuses_a_status_list_rollback(
    city: FakeIssuer, runner: Any, client: Any, clock: Any
) -> None:
    text, card = city.card(now=clock())
    valid_list = city.docs["/.well-known/citycard/status/0"]
    city.set_status(card.status_index, Status.REVOKED)
    clock.advance(minutes=5)
    city.publish(clock(), bump=False)
    assert runner.invoke(args=["sync"]).exit_code == 0
    assert verify(client, text)["result"] == "revoked"
    # An attacker (or a stale cache) serves the older list that still says "valid".
    city.docs["/.well-known/citycard/status/0"] = valid_list
    clock.advance(minutes=5)
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "older than the copy already accepted" in result.output
    assert verify(client, text)["result"] == "revoked"


def test_sync_refuses_metadata_from_a_wrong_root(
    city: FakeIssuer, runner: Any, client: Any, clock: Any
) -> None:
    text, _ = city.card(now=clock())
    impostor = generate_key()
    city.root = impostor  # same city, same code, but another root signs
    city.publish(clock())
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "bad_signature" in result.output
    assert verify(client, text)["result"] == "valid"


def test_sync_refuses_tampered_metadata(
    city: FakeIssuer, runner: Any, client: Any, clock: Any
) -> None:
    text, _ = city.card(now=clock())
    good = bytearray(city.docs["/.well-known/citycard/issuer"])
    good[-3] ^= 0x40
    city.docs["/.well-known/citycard/issuer"] = bytes(good)
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "keeping the last good copy" in result.output
    assert verify(client, text)["result"] == "valid"


def test_sync_refuses_a_list_signed_by_another_city(
    city: FakeIssuer, serve_issuer: Any, runner: Any, clock: Any
) -> None:
    other = serve_issuer("PT LIS", {"pt": "Lisboa"})
    city.docs["/.well-known/citycard/status/0"] = other.docs["/.well-known/citycard/status/0"]
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "status list 0 refused (unknown_issuer" in result.output


def test_sync_keeps_the_last_good_copy_when_the_partner_is_down(
    city: FakeIssuer, runner: Any, client: Any, clock: Any, instance: Path
) -> None:
    text, _ = city.card(now=clock())
    city.docs.clear()  # every path now answers 404
    clock.advance(hours=1)
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "FR SXB: FAILED" in result.output
    assert "HTTP 404" in result.output
    assert verify(client, text)["result"] == "valid"
    stored = json.loads((instance / "trust.json").read_text())["partners"][0]
    assert stored["last_error"] and "HTTP 404" in stored["last_error"]
    assert stored["last_success_at"] == "2026-06-01T12:00:00Z"
    assert stored["last_attempt_at"] == "2026-06-01T13:00:00Z"


def test_one_failing_partner_does_not_block_the_others(
    city: FakeIssuer, serve_issuer: Any, runner: Any, client: Any, clock: Any
) -> None:
    other = serve_issuer("PT LIS", {"pt": "Lisboa"})
    assert pin(runner, other).exit_code == 0
    text, card = other.card(now=clock())
    other.set_status(card.status_index, Status.SUSPENDED)
    clock.advance(minutes=3)
    other.publish(clock())
    city.docs.clear()
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "FR SXB: FAILED" in result.output
    assert "PT LIS: ok" in result.output
    assert verify(client, text)["result"] == "suspended"


def test_sync_reports_a_lapsed_metadata_ttl_as_a_warning(
    city: FakeIssuer, runner: Any, clock: Any
) -> None:
    clock.advance(seconds=city.metadata_ttl + 60)
    result = runner.invoke(args=["sync"])  # the issuer serves the same, now lapsed, metadata
    assert result.exit_code == 0
    assert "warning: metadata is past its ttl" in result.output


def test_a_tampered_trust_file_is_not_trusted(
    city: FakeIssuer, client: Any, clock: Any, instance: Path
) -> None:
    text, _ = city.card(now=clock())
    assert verify(client, text)["result"] == "valid"
    path = instance / "trust.json"
    doc = json.loads(path.read_text())
    # Swap in metadata signed by another root: the pinned fingerprint no longer matches.
    impostor = generate_key()
    city.root = impostor
    meta = city.metadata(clock())
    import base64

    doc["partners"][0]["metadata"] = base64.b64encode(
        sign_metadata(meta, root_key=impostor)
    ).decode()
    path.write_text(json.dumps(doc))
    assert verify(client, text)["result"] == "unknown_issuer"


def test_a_damaged_trust_file_keeps_the_loaded_copy(
    city: FakeIssuer, client: Any, clock: Any, instance: Path
) -> None:
    text, _ = city.card(now=clock())
    assert verify(client, text)["result"] == "valid"
    (instance / "trust.json").write_text("{ not json")
    assert verify(client, text)["result"] == "valid"


def test_partners_added_while_serving_are_picked_up(
    city: FakeIssuer, serve_issuer: Any, runner: Any, client: Any, clock: Any
) -> None:
    other = serve_issuer("PT LIS", {"pt": "Lisboa"})
    text, _ = other.card(now=clock())
    assert verify(client, text)["result"] == "unknown_issuer"
    assert pin(runner, other).exit_code == 0
    assert verify(client, text)["result"] == "valid"


def test_sync_timeout_is_bounded(serve_issuer: Any, app_factory: Any, clock: Any) -> None:
    """A partner that accepts the connection and never answers costs one timeout, not a hang."""
    import socket
    import time

    city = serve_issuer()
    app = app_factory(SYNC_TIMEOUT=1)
    runner = app.test_cli_runner()
    assert pin(runner, city).exit_code == 0
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        path = app.extensions["verifier"].store
        with path.transaction() as records:
            from dataclasses import replace

            records["FR SXB"] = replace(
                records["FR SXB"],
                metadata_url=f"http://127.0.0.1:{port}/.well-known/citycard/issuer",
            )
        started = time.monotonic()
        result = runner.invoke(args=["sync"])
        assert time.monotonic() - started < 5
        assert result.exit_code == 1
        assert "timed out" in result.output
    finally:
        silent.close()


def test_console_script_reports_configuration_errors_without_a_traceback(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = Path(sys.executable).with_name("verifier")
    env = dict(os.environ, VERIFIER_ENV="production", VERIFIER_INSTANCE_PATH=str(tmp_path))
    env.pop("VERIFIER_SECRET_KEY", None)
    result = subprocess.run(
        [str(script), "partners", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "VERIFIER_SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_sync_every_keeps_syncing(city: FakeIssuer, runner: Any, monkeypatch: Any) -> None:
    import verifier.commands

    naps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt  # the operator stops the daemon

    monkeypatch.setattr(verifier.commands.time, "sleep", fake_sleep)
    result = runner.invoke(args=["sync", "--every", "300"])
    assert naps == [300, 300]
    assert result.output.count("FR SXB: ok") == 2
    assert runner.invoke(args=["sync", "--every", "4"]).exit_code == 2  # at least 5 s


def test_an_unexpected_error_for_one_partner_does_not_stop_the_others(
    city: FakeIssuer, serve_issuer: Any, runner: Any, instance: Path, clock: Any
) -> None:
    from verifier.fetch import HttpFetcher
    from verifier.sync import sync_partners
    from verifier.trust import TrustStore

    other = serve_issuer("PT LIS", {"pt": "Lisboa"})
    assert pin(runner, other).exit_code == 0
    real = HttpFetcher(timeout=5, retries=0)

    def fetch(url: str, *, max_bytes: int) -> bytes:
        if url.startswith(city.base_url):
            raise ZeroDivisionError("a library bug")
        return real(url, max_bytes=max_bytes)

    reports = sync_partners(TrustStore(instance), now=clock(), fetch=fetch)
    by_code = {r.code: r for r in reports}
    assert by_code["PT LIS"].ok
    assert by_code["FR SXB"].errors == ["unexpected ZeroDivisionError; the last good copy is kept"]


def test_sync_revalidates_with_the_stored_etags(
    city: FakeIssuer, runner: Any, client: Any, clock: Any, instance: Path
) -> None:
    """Nothing changed: each document comes back 304 and the stored copy is confirmed."""
    text, card = city.card(now=clock())
    stored = json.loads((instance / "trust.json").read_text())["partners"][0]
    assert stored["metadata_etag"] and stored["status_lists"][0]["etag"]
    city.not_modified.clear()
    clock.advance(minutes=10)
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert "FR SXB: ok" in result.output
    assert sorted(city.not_modified) == sorted(city.docs)  # metadata and the status list
    after = json.loads((instance / "trust.json").read_text())["partners"][0]
    assert after["metadata"] == stored["metadata"]
    assert after["status_lists"][0]["token"] == stored["status_lists"][0]["token"]
    assert after["metadata_etag"] == stored["metadata_etag"]
    # Confirmed as current now, exactly as if the same bytes had been downloaded again.
    assert after["metadata_fetched_at"] == "2026-06-01T12:10:00Z"
    assert after["status_lists"][0]["fetched_at"] == "2026-06-01T12:10:00Z"
    assert verify(client, text)["result"] == "valid"

    # A change is downloaded in full, and its new ETag kept.
    city.set_status(card.status_index, Status.REVOKED)
    clock.advance(hours=1)
    city.publish(clock())
    city.not_modified.clear()
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert city.not_modified == []
    changed = json.loads((instance / "trust.json").read_text())["partners"][0]
    assert changed["metadata_etag"] != stored["metadata_etag"]
    assert changed["status_lists"][0]["etag"] != stored["status_lists"][0]["etag"]
    assert verify(client, text)["result"] == "revoked"


def test_a_304_is_verified_like_a_download(
    serve_issuer: Any, runner: Any, client: Any, clock: Any
) -> None:
    """An unchanged list past its own expiry is refused, 304 or not: no silent 'valid'."""
    issuer: FakeIssuer = serve_issuer(list_lifetime=timedelta(hours=2))
    assert pin(runner, issuer).exit_code == 0
    text, _ = issuer.card(now=clock())
    clock.advance(hours=3)
    issuer.not_modified.clear()
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "/.well-known/citycard/status/0" in issuer.not_modified
    assert "status list 0 refused" in result.output
    assert verify(client, text)["result"] == "status_unknown"


def test_a_store_without_etags_downloads_in_full(
    city: FakeIssuer, runner: Any, instance: Path
) -> None:
    """Stores written before ETags were kept still load, and sync then fetches unconditionally."""
    path = instance / "trust.json"
    doc = json.loads(path.read_text())
    for partner in doc["partners"]:
        del partner["metadata_etag"]
        for entry in partner["status_lists"]:
            del entry["etag"]
    path.write_text(json.dumps(doc))
    city.not_modified.clear()
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert city.not_modified == []
    stored = json.loads(path.read_text())["partners"][0]
    assert stored["metadata_etag"] and stored["status_lists"][0]["etag"]
