"""Where a stack's parts are and what each is told: its addresses, folder and databases, and
from them the settings of every server, nginx's configuration and single sign-on."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from . import postgres
from .common import HOST
from .nginx import fill_template

SECRET_NAMES = ("SECRET_KEY", "KEY_PASSPHRASE", "MASTER_KEY", "INDEX_KEY")


@dataclass(frozen=True)
class OidcClient:
    """The counter's registration at an OpenID provider (docs/operations.md, "Single sign-on")."""

    issuer: str
    client_id: str
    client_secret: str
    # The authority that signed the provider's certificate, when it is not a public one: the
    # instances trust it (for their calls to the provider) through requests' own variable.
    ca_file: Path | None = None
    # More CARDSERVICE_OIDC_* settings (role map, MFA values...), as the city sets them.
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class StackLayout:
    """A stack's addresses, folder and databases (``Stack`` adds starting and stopping it).
    What is left at zero or empty is chosen when the stack starts."""

    https_port: int = 0
    # Any loopback address: the tests use 127.0.0.2, so that 127.0.0.1 in a log line can only be
    # a client's (the browser's) address, never one the stack listens on.
    host: str = HOST
    postgres_url: str = field(default_factory=postgres.postgres_admin_url)
    verifier_port: int = 0
    workers: int = field(default_factory=lambda: int(os.environ.get("STACK_WORKERS", "2")))
    redis_url: str = field(
        default_factory=lambda: os.environ.get("STACK_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    folder: Path = field(default_factory=lambda: Path())
    ca_file: Path = field(default_factory=lambda: Path())
    app_ports: list[int] = field(default_factory=list)
    verifier_app_port: int = 0
    databases: list[str] = field(default_factory=list)
    # Added to the settings of every cardservice instance and of its tools: a test suite's own
    # tuning (e.g. the concurrency suite moves the per-address sign-in limit out of the way of
    # the lockout it tests). Empty for a city's stack.
    cardservice_extra: dict[str, str] = field(default_factory=dict)
    # Single sign-on with this provider for both instances; none: local passwords only.
    oidc: OidcClient | None = None
    _cert: Path = field(default_factory=lambda: Path())
    _key: Path = field(default_factory=lambda: Path())

    def __post_init__(self) -> None:
        self.postgres_url = self.postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def verifier_url(self) -> str:
        return f"https://{self.host}:{self.verifier_port}"

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def issuer_url(self) -> str:
        return f"{self.url}/.well-known/citycard/issuer"

    @property
    def server_names(self) -> list[str]:
        return [*(f"cardservice-{index}" for index in (1, 2)), "verifier"]

    def server_settings(self, name: str) -> dict[str, str]:
        """The settings of one of ``server_names``, its listening address included."""
        if name == "verifier":
            return self.verifier_settings() | {
                "VERIFIER_BIND": f"{self.host}:{self.verifier_app_port}"
            }
        index = int(name.rpartition("-")[2])
        return self.cardservice_settings(index) | {
            "CARDSERVICE_BIND": f"{self.host}:{self.app_ports[index - 1]}"
        }

    def cardservice_settings(self, index: int = 1) -> dict[str, str]:
        """The stack's settings for cardservice instance ``index`` (the launcher adds the rest
        of the environment)."""
        settings = {
            "CARDSERVICE_ENV": "production",
            "CARDSERVICE_PUBLIC_URL": self.url,
            "CARDSERVICE_INSTANCE_PATH": str(self.folder / f"cardservice-{index}"),
            "CARDSERVICE_DATABASE_URL": self.database_url(0),
            "CARDSERVICE_KEYSTORE_DATABASE_URL": self.database_url(1),
            "CARDSERVICE_PROXY_HOPS": "1",
            "CARDSERVICE_RATELIMIT_STORAGE_URI": self.redis_url,
            "CARDSERVICE_WORKERS": str(self.workers),
            "PYTHONUNBUFFERED": "1",
        }
        for name in SECRET_NAMES:
            settings[f"CARDSERVICE_{name}_FILE"] = str(self.folder / "secrets" / name.lower())
        return settings | self.oidc_settings() | self.cardservice_extra

    def oidc_settings(self) -> dict[str, str]:
        """The instances' single sign-on settings (none without ``oidc``)."""
        if self.oidc is None:
            return {}
        settings = {
            "CARDSERVICE_OIDC_ISSUER": self.oidc.issuer,
            "CARDSERVICE_OIDC_CLIENT_ID": self.oidc.client_id,
            "CARDSERVICE_OIDC_CLIENT_SECRET_FILE": str(
                self.folder / "secrets" / "oidc_client_secret"
            ),
            **self.oidc.settings,
        }
        if self.oidc.ca_file is not None:
            settings["REQUESTS_CA_BUNDLE"] = str(self.folder / "tls" / "oidc-ca.pem")
        return settings

    @property
    def sso_redirect_uri(self) -> str:
        """What to register at the provider."""
        return f"{self.url}/sso/callback"

    def database_url(self, index: int) -> str:
        """The SQLAlchemy URL of ``databases[index]``: 0 the resident database, 1 the key store."""
        return postgres.database_url(self.postgres_url, self.databases[index])

    def verifier_settings(self) -> dict[str, str]:
        """The stack's settings for the verifier (the launcher adds the rest)."""
        return {
            "VERIFIER_ENV": "production",
            "VERIFIER_INSTANCE_PATH": str(self.folder / "verifier"),
            "VERIFIER_SECRET_KEY_FILE": str(self.folder / "secrets" / "verifier_secret_key"),
            "VERIFIER_TRUSTED_PROXIES": "1",
            "VERIFIER_RATELIMIT_STORAGE_URI": self.redis_url,
            "VERIFIER_WORKERS": str(self.workers),
            # `verifier sync` fetches the city's documents over HTTPS from nginx: it trusts
            # the stack's CA through OpenSSL's own variable, with every check in place.
            "SSL_CERT_FILE": str(self.ca_file),
            "PYTHONUNBUFFERED": "1",
        }

    def nginx_config(self) -> str:
        """config/nginx/citycard.conf with this stack's ports, paths and certificate."""
        values = {
            "COUNTER_SERVER_NAME": f"{self.host} localhost",
            "COUNTER_LISTEN": f"{self.host}:{self.https_port}",
            "VERIFIER_SERVER_NAME": f"{self.host} localhost",
            "VERIFIER_LISTEN": f"{self.host}:{self.verifier_port}",
            "CERTIFICATE": str(self._cert),
            "CERTIFICATE_KEY": str(self._key),
            "CARDSERVICE_1": f"{self.host}:{self.app_ports[0]}",
            "CARDSERVICE_2": f"{self.host}:{self.app_ports[1]}",
            "VERIFIER": f"{self.host}:{self.verifier_app_port}",
            "LOG_DIR": str(self.log_dir),
        }
        return fill_template(values)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))
