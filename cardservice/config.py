"""Configuration: `config/defaults.toml` plus the environment (12-factor).

Every setting of `config/defaults.toml` can be overridden by ``CARDSERVICE_<KEY>``. The secrets
and keys are read by keyconfig.py, staff authentication's settings by authconfig.py; this module
puts them together into the app's configuration, the one way it is loaded.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .envsettings import (
    ENV_PREFIX,
    ConfigError,
    comma_list,
    env_rate_limit,
    env_secret,
    parse_bool,
    parse_int,
)
from .keyconfig import (
    SECRETS,
    check_keys,
    decode_key,
    load_secret,
    pkcs11_settings,
    previous_master_keys,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A source checkout finds config/ and migrations/ beside the package; an installed package (the
# Docker image) is told where they are.
CONFIG_DIR = Path(os.environ.get("CARDSERVICE_CONFIG_DIR") or PROJECT_ROOT / "config")
MIGRATIONS_DIR = Path(os.environ.get("CARDSERVICE_MIGRATIONS_DIR") or PROJECT_ROOT / "migrations")
ENVIRONMENTS = ("development", "production", "testing")
# ConfigError and decode_key are defined in envsettings.py and keyconfig.py and offered here
# too: the rest of the app and the tests take what concerns configuration from this module.
__all__ = [
    "CONFIG_DIR",
    "ENVIRONMENTS",
    "ENV_PREFIX",
    "MIGRATIONS_DIR",
    "PROJECT_ROOT",
    "ConfigError",
    "decode_key",
    "load_config",
    "private_folder",
]


def _read_defaults() -> dict[str, Any]:
    with open(CONFIG_DIR / "defaults.toml", "rb") as fh:
        return tomllib.load(fh)


def _coerce(value: str, like: Any) -> Any:
    """Parse an environment string into the type of the default it overrides."""
    if isinstance(like, bool):
        return parse_bool(value)
    if isinstance(like, int):
        return parse_int(value)
    return value


def private_folder(path: Path) -> None:
    """Create `path` as 0700, or tighten it to 0700: it holds the SQLite databases, the key store
    and the generated secrets, which no other account of the machine may read (in development
    too: a laptop's demo city still holds real-looking records and working keys)."""
    from webguard.secret_files import private_folder as make_private

    try:
        make_private(path)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("the folder", "the instance folder", 1)) from None


def _ratelimit_settings(env: Mapping[str, str], environment: str) -> dict[str, Any]:
    """Sign-in attempts per client address (cardservice/ratelimit.py), Flask-Limiter's keys.

    Off by default only in testing, where a whole suite signs in from one address within
    seconds; CARDSERVICE_RATELIMIT_ENABLED=true turns it on there (its own tests do).
    """
    enabled_raw = env.get(ENV_PREFIX + "RATELIMIT_ENABLED")
    try:
        enabled = (
            _coerce(enabled_raw, True) if enabled_raw is not None else environment != "testing"
        )
    except ConfigError as exc:
        raise ConfigError(f"{ENV_PREFIX}RATELIMIT_ENABLED: {exc}") from None
    login = env_rate_limit(env, "RATELIMIT_LOGIN", "10 per minute")
    search = env_rate_limit(env, "RATELIMIT_SEARCH", "30 per minute")
    # memory:// keeps counts per worker process; redis://host:6379 shares them.
    storage = (env.get(ENV_PREFIX + "RATELIMIT_STORAGE_URI") or "memory://").strip()
    if environment == "production" and enabled:
        from webguard.ratelimit import require_shared_storage

        try:
            require_shared_storage(
                storage,
                setting=f"{ENV_PREFIX}RATELIMIT_STORAGE_URI",
                limit="the sign-in limit",
                docs="docs/operations.md",
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return {
        "RATELIMIT_ENABLED": enabled,
        "RATELIMIT_LOGIN": login,
        "RATELIMIT_SEARCH": search,
        "RATELIMIT_STORAGE_URI": storage,
        "RATELIMIT_KEY_PREFIX": "cardservice",
        "RATELIMIT_HEADERS_ENABLED": True,
        # A storage that fails (Redis down) must not turn the sign-in form into a 500: count in
        # memory until it is back.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def _mfa_roles(raw: str) -> tuple[str, ...]:
    roles = comma_list(str(raw))
    unknown = [role for role in roles if role not in ("clerk", "supervisor", "admin")]
    if unknown:
        raise ConfigError(
            f"{ENV_PREFIX}MFA_REQUIRED_ROLES names unknown roles {', '.join(unknown)}: use "
            "clerk, supervisor and admin, comma-separated"
        )
    return roles


def _trusted_proxy_addresses(raw: str) -> tuple[str, ...]:
    from webguard.proxy import parse_networks

    items = comma_list(raw)
    try:
        parse_networks(items)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}TRUSTED_PROXY_ADDRESSES: {exc}") from None
    return items


def _city_locale(value: str) -> str:
    if not value:
        return ""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(value))
    except (ValueError, UnknownLocaleError):
        raise ConfigError(
            f"{ENV_PREFIX}CITY_LOCALE must be a locale such as fr_FR, got {value!r}"
        ) from None


def _printer_uri(value: str) -> str:
    if value and not value.startswith(("ipp://", "ipps://")):
        raise ConfigError(
            f"{ENV_PREFIX}CARD_PRINTER_URI must be an ipp:// or ipps:// URI, got {value!r}"
        )
    return value


def _database_url(url: str) -> str:
    # Heroku-style URLs name the old scheme; SQLAlchemy 2 needs the driver spelled out.
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _same_database(first: str, second: str) -> bool:
    """Whether two URLs name the same database (credentials and options aside)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        a, b = make_url(first), make_url(second)
    except ArgumentError:
        return first == second
    if a.get_backend_name() == "sqlite" and b.get_backend_name() == "sqlite":
        if not a.database or not b.database or ":memory:" in (a.database, b.database):
            return False
        return Path(a.database).resolve() == Path(b.database).resolve()
    return (a.get_backend_name(), a.host, a.port or 5432, a.database) == (
        b.get_backend_name(),
        b.host,
        b.port or 5432,
        b.database,
    )


def _keystore_url(
    env: Mapping[str, str], instance_path: Path, database_url: str, production: bool
) -> str:
    """CARDSERVICE_KEYSTORE_DATABASE_URL: where the wrapped per-resident data keys live.

    Development and tests default to an SQLite file in the instance folder. Production must name
    it, and it must not be the resident database: keys kept beside the ciphertext would make
    every backup of that database readable again with the master key (docs/privacy.md).
    """
    given = (env.get(ENV_PREFIX + "KEYSTORE_DATABASE_URL") or "").strip()
    if not given:
        if production:
            raise ConfigError(
                f"{ENV_PREFIX}KEYSTORE_DATABASE_URL is not set (the database of the per-resident "
                "data keys, kept apart from the resident database so that erasing a resident "
                "also makes old backups unreadable). In production it must be given, e.g. "
                "postgresql://cardservice@db.example/cardservice_keys; see docs/operations.md."
            )
        return f"sqlite:///{instance_path / 'keystore.sqlite3'}"
    url = _database_url(given)
    if _same_database(url, database_url):
        raise ConfigError(
            f"{ENV_PREFIX}KEYSTORE_DATABASE_URL names the resident database itself: the data "
            "keys must live in a database of their own, or erasure would not reach backups "
            "(docs/privacy.md)."
        )
    return url


def _auth_settings(env: Mapping[str, str], production: bool) -> dict[str, Any]:
    """Session timeouts, single sign-on and API tokens (authconfig.py)."""
    from .authconfig import auth_settings

    return auth_settings(
        env, production=production, oidc_secret=env_secret(env, "OIDC_CLIENT_SECRET")
    )


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Flask configuration from the defaults file and the environment.

    Returns upper-case Flask keys. Raises ConfigError with a message meant for an operator.
    """
    env = os.environ if env is None else env
    defaults = _read_defaults()
    settings: dict[str, Any] = {}
    for key, default in defaults.items():
        raw = env.get(ENV_PREFIX + key.upper())
        try:
            settings[key] = default if raw is None else _coerce(raw, default)
        except ConfigError as exc:
            raise ConfigError(f"{ENV_PREFIX}{key.upper()}: {exc}") from None

    environment = str(settings["env"]).lower()
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"{ENV_PREFIX}ENV must be one of {', '.join(ENVIRONMENTS)}")

    instance_path = Path(env.get(ENV_PREFIX + "INSTANCE_PATH") or (PROJECT_ROOT / "instance"))
    instance_path = instance_path.resolve()
    private_folder(instance_path)

    database_url = _database_url(
        env.get(ENV_PREFIX + "DATABASE_URL") or f"sqlite:///{instance_path / 'cardservice.sqlite3'}"
    )
    public_url = str(settings["public_url"]).rstrip("/")
    production = environment == "production"
    if production and not public_url.startswith("https://"):
        raise ConfigError(f"{ENV_PREFIX}PUBLIC_URL must be an https:// URL in production")

    config: dict[str, Any] = {
        "CARDSERVICE_ENV": environment,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_URL": public_url,
        "POLICY": settings["policy"],
        "MAX_CONTENT_LENGTH": settings["max_content_length"],
        "LOG_LEVEL": str(settings["log_level"]).upper(),
        "MAX_FAILED_LOGINS": settings["max_failed_logins"],
        "LOCKOUT_MINUTES": settings["lockout_minutes"],
        "MFA_REQUIRED_ROLES": _mfa_roles(settings["mfa_required_roles"]),
        "STEP_UP_MINUTES": settings["step_up_minutes"],
        "WEBAUTHN_RP_ID": str(settings["webauthn_rp_id"]).strip(),
        "WEBAUTHN_ORIGIN": str(settings["webauthn_origin"]).strip().rstrip("/"),
        "TESTING": environment == "testing",
        # Session cookies: never readable from scripts, never sent cross-site on a POST, and
        # only over TLS whenever the service is served over TLS (always in production).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or public_url.startswith("https://"),
        "SESSION_COOKIE_NAME": "cardservice_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production or public_url.startswith("https://"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JSON_SORT_KEYS": False,
        # How many reverse proxies in front set X-Forwarded-For/-Proto (0: none, trust nothing).
        "PROXY_HOPS": settings["proxy_hops"],
        # ...and the addresses they connect from: nobody else's forwarded headers are read.
        "TRUSTED_PROXY_ADDRESSES": _trusted_proxy_addresses(settings["trusted_proxy_addresses"]),
        "CARD_TITLE": str(settings["card_title"]).strip(),
        "CITY_LOCALE": _city_locale(str(settings["city_locale"]).strip()),
        "CARD_PRINTER_URI": _printer_uri(str(settings["card_printer_uri"]).strip()),
        "CARD_PRINTER_CA_FILE": str(settings["card_printer_ca_file"]).strip(),
    }
    for name in SECRETS:
        config[name] = load_secret(name, env, instance_path, environment)
    # The data-key store (models.keystore): a database of its own, so that a backup of the
    # resident database holds ciphertext whose keys are elsewhere. create_app() turns it into the
    # `keystore` bind. Checked after the secrets, which an operator sets up first.
    config["KEYSTORE_DATABASE_URI"] = _keystore_url(env, instance_path, database_url, production)
    config["PREVIOUS_MASTER_KEYS"] = previous_master_keys(env)
    config.update(pkcs11_settings(env))
    config.update(_ratelimit_settings(env, environment))
    config.update(_auth_settings(env, production))
    check_keys(config, production=production)
    return config
