"""Forwarded headers (X-Forwarded-For, -Proto, -Host) are believed only from the reverse proxy.

Werkzeug's ProxyFix believes the last N entries of X-Forwarded-For from whoever sends them. A
client that reaches an app's port directly (a container port published to the network, another
machine on the same segment) could then choose a new address for every request and never meet
the limits counted per client address (the issuance app's sign-in limit, the verifier's API
limit). Here the headers are read only when the connection itself comes from one of the app's
trusted proxy addresses (CARDSERVICE_TRUSTED_PROXY_ADDRESSES, VERIFIER_TRUSTED_PROXY_ADDRESSES);
from anyone else they are ignored and the connection's own address is the client's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``127.0.0.1``, ``10.0.0.0/24``), as gunicorn's forwarded_allow_ips
    reads them. Raises ValueError naming the first item that is neither."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip()))
        except ValueError:
            raise ValueError(
                f"{item.strip()!r} is not an IP address or network (such as 127.0.0.1 or "
                "10.0.0.0/24); '*' is refused: it would let any client choose its address"
            ) from None
    return tuple(networks)


class TrustedProxyFix:
    """ProxyFix for requests whose connection comes from a trusted proxy; the app itself for
    every other request."""

    def __init__(self, app: Any, hops: int, networks: Iterable[Network]) -> None:
        self._direct = app
        self._proxied = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops)
        self._networks = tuple(networks)

    def _from_proxy(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:  # a Unix socket or a server that gives no peer address
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._from_proxy(environ.get("REMOTE_ADDR")):
            return self._proxied(environ, start_response)
        return self._direct(environ, start_response)
