"""Forwarded headers believed only from the trusted proxy's addresses (webguard.proxy)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from webguard.proxy import TrustedProxyFix, parse_networks


def test_parse_networks_reads_addresses_and_networks() -> None:
    assert parse_networks(["127.0.0.1", " ::1 ", "10.0.0.0/24"]) == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/24"),
    )
    assert parse_networks([]) == ()


@pytest.mark.parametrize("bad", ["*", "proxy.example", "10.0.0.1/24", "", "0.0.0.0/33"])
def test_parse_networks_refuses_what_is_not_an_address_or_network(bad: str) -> None:
    with pytest.raises(ValueError, match="is not an IP address or network") as raised:
        parse_networks(["127.0.0.1", bad])
    assert repr(bad) in str(raised.value)
    # The message says why the wildcard gunicorn would accept is refused here.
    assert "'*' is refused" in str(raised.value)


def _seen(
    peer: str | None, networks: tuple[str, ...] = ("127.0.0.1",), hops: int = 1, **headers: str
) -> dict[str, Any]:
    """What the app behind TrustedProxyFix sees of a request from ``peer``."""
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "app.internal",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "app.internal:8000",
        "wsgi.url_scheme": "http",
    }
    if peer is not None:
        environ["REMOTE_ADDR"] = peer
    environ.update({"HTTP_" + name.upper(): value for name, value in headers.items()})
    TrustedProxyFix(app, hops, parse_networks(networks))(environ, lambda *_: None)
    return seen


FORWARDED = {
    "x_forwarded_for": "203.0.113.5",
    "x_forwarded_proto": "https",
    "x_forwarded_host": "cards.city.example",
}


def test_headers_from_the_trusted_proxy_are_believed() -> None:
    seen = _seen("127.0.0.1", **FORWARDED)
    assert seen["REMOTE_ADDR"] == "203.0.113.5"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["HTTP_HOST"] == "cards.city.example"


@pytest.mark.parametrize("peer", ["192.0.2.99", "10.0.1.1", "::1", "", None, "unix:/run/app.sock"])
def test_headers_from_anyone_else_are_ignored(peer: str | None) -> None:
    seen = _seen(peer, ("127.0.0.1", "10.0.0.0/24"), **FORWARDED)
    assert seen.get("REMOTE_ADDR") == peer
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["HTTP_HOST"] == "app.internal:8000"


def test_a_trusted_network_covers_its_addresses() -> None:
    assert _seen("10.0.0.77", ("10.0.0.0/24",), **FORWARDED)["REMOTE_ADDR"] == "203.0.113.5"


def test_an_ipv4_mapped_ipv6_peer_is_its_ipv4_address() -> None:
    # A dual-stack listener reports an IPv4 proxy as ::ffff:127.0.0.1: still the trusted proxy.
    assert _seen("::ffff:127.0.0.1", **FORWARDED)["REMOTE_ADDR"] == "203.0.113.5"
    # And an untrusted IPv4 peer gains nothing by arriving that way.
    assert _seen("::ffff:192.0.2.99", **FORWARDED)["REMOTE_ADDR"] == "::ffff:192.0.2.99"


def test_only_as_many_entries_as_hops_are_believed() -> None:
    # The client may prepend anything to X-Forwarded-For; one proxy vouches for the last entry.
    spoofed = {**FORWARDED, "x_forwarded_for": "198.51.100.1, 203.0.113.5"}
    assert _seen("127.0.0.1", hops=1, **spoofed)["REMOTE_ADDR"] == "203.0.113.5"
    assert _seen("127.0.0.1", hops=2, **spoofed)["REMOTE_ADDR"] == "198.51.100.1"
