"""Production rules of issue 11 for the verifier: shared rate-limit counts, forwarded headers
believed only from the proxy's address, HSTS, and no client address in its logs."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.service_fixtures import redis_url
from verifier import create_app
from verifier.config import ConfigError

HSTS = "max-age=63072000; includeSubDomains"


def _production(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "ENV": "production",
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "s" * 64,
        **overrides,
    }


def test_production_refuses_per_process_rate_limit_counts(tmp_path: Path) -> None:
    for storage in ("memory://", " memory:// "):
        with pytest.raises(ConfigError, match="VERIFIER_RATELIMIT_STORAGE_URI is 'memory://'"):
            create_app(_production(tmp_path, RATELIMIT_STORAGE_URI=storage))
    # The default is memory://, for a laptop: production must name a shared storage.
    with pytest.raises(ConfigError, match="VERIFIER_RATELIMIT_STORAGE_URI"):
        create_app(_production(tmp_path))
    # Development keeps the zero-setup default.
    development = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert development.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_hsts_in_production_only(tmp_path: Path) -> None:
    production = create_app(_production(tmp_path, RATELIMIT_STORAGE_URI=redis_url()))
    for path in ("/healthz", "/api/v1/openapi.json", "/"):
        response = production.test_client().get(path)
        assert response.headers["Strict-Transport-Security"] == HSTS, path
    development = create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert "Strict-Transport-Security" not in development.test_client().get("/healthz").headers


def test_trusted_proxy_addresses_are_checked(tmp_path: Path) -> None:
    for bad in ("*", "proxy.example", "10.0.0.1/24"):
        with pytest.raises(ConfigError, match="VERIFIER_TRUSTED_PROXY_ADDRESSES"):
            create_app(
                {
                    "ENV": "testing",
                    "INSTANCE_PATH": str(tmp_path),
                    "TRUSTED_PROXY_ADDRESSES": (bad,),
                }
            )


def test_forwarded_for_counts_only_from_the_proxy_address(app_factory: Any) -> None:
    """Behind one proxy (VERIFIER_TRUSTED_PROXIES=1) at 192.0.2.10: its X-Forwarded-For names
    the client; a client reaching the app directly cannot pick an address per request."""
    app = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_API="3 per minute",
        TRUSTED_PROXIES=1,
        TRUSTED_PROXY_ADDRESSES=("192.0.2.10",),
    )
    client = app.test_client()

    def verify(peer: str, forwarded: str) -> int:
        return client.post(
            "/api/v1/verify",
            json={"qr": "x"},
            headers={"X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": peer},
        ).status_code

    direct = [verify("198.51.100.7", f"203.0.113.{n}") for n in range(6)]
    assert direct == [200, 200, 200, 429, 429, 429]
    # Through the proxy, each forwarded client has its own budget.
    assert [verify("192.0.2.10", "203.0.113.50") for _ in range(4)] == [200, 200, 200, 429]
    assert verify("192.0.2.10", "203.0.113.51") == 200


def test_rate_limit_breach_logs_no_client_address(
    app_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_factory(
        RATELIMIT_ENABLED=True,
        RATELIMIT_API="1 per minute",
        RATELIMIT_STORAGE_URI=redis_url(),
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4()}",
    )
    client = app.test_client()
    address = "198.51.100.23"
    caplog.set_level(logging.DEBUG)
    statuses = [
        client.post(
            "/api/v1/verify", json={"qr": "x"}, environ_base={"REMOTE_ADDR": address}
        ).status_code
        for _ in range(2)
    ]
    assert statuses == [200, 429]
    assert caplog.records, "the test must see log records to mean anything"
    for record in caplog.records:
        assert address not in record.getMessage()
