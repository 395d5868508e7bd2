"""Configuration: `config/defaults.toml` plus the environment (12-factor).

Every setting of `config/defaults.toml` can be overridden by ``CARDSERVICE_<KEY>``. Secrets never
have defaults: they come from ``CARDSERVICE_<NAME>`` or from a file named by
``CARDSERVICE_<NAME>_FILE``. In development and testing a missing secret is generated once into
the instance folder (mode 0600); in production a missing secret stops the app with a clear message.
"""

from __future__ import annotations

import base64
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "CARDSERVICE_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A source checkout finds config/ and migrations/ beside the package; an installed package (the
# Docker image) is told where they are.
CONFIG_DIR = Path(os.environ.get("CARDSERVICE_CONFIG_DIR") or PROJECT_ROOT / "config")
MIGRATIONS_DIR = Path(os.environ.get("CARDSERVICE_MIGRATIONS_DIR") or PROJECT_ROOT / "migrations")
ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


# name -> (how to generate a development value, what it is for). Generated values are text.
_SECRETS: dict[str, tuple[Any, str]] = {
    "SECRET_KEY": (lambda: secrets.token_urlsafe(48), "signs staff sessions and CSRF tokens"),
    "KEY_PASSPHRASE": (
        lambda: secrets.token_urlsafe(32),
        "encrypts the root and signing keys at rest",
    ),
    "MASTER_KEY": (
        lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        "wraps the per-resident data keys (base64 of 32 random bytes)",
    ),
    "INDEX_KEY": (
        lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        "keys the blind indexes used for search (base64 of 32 random bytes)",
    ),
}


def _read_defaults() -> dict[str, Any]:
    with open(CONFIG_DIR / "defaults.toml", "rb") as fh:
        return tomllib.load(fh)


def _coerce(value: str, like: Any) -> Any:
    """Parse an environment string into the type of the default it overrides."""
    if isinstance(like, bool):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"expected true or false, got {value!r}")
    if isinstance(like, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"expected an integer, got {value!r}") from None
    return value


def _secret_file_value(path: str, setting: str) -> str:
    from webguard.secret_files import read_secret_file

    try:
        return read_secret_file(path, setting)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def private_folder(path: Path) -> None:
    """Create `path` as 0700, or tighten it to 0700: it holds the SQLite databases, the key store
    and the generated secrets, which no other account of the machine may read (in development
    too: a laptop's demo city still holds real-looking records and working keys)."""
    from webguard.secret_files import private_folder as make_private

    try:
        make_private(path)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("the folder", "the instance folder", 1)) from None


def _load_secret(name: str, env: Mapping[str, str], instance_path: Path, environment: str) -> str:
    direct = env.get(ENV_PREFIX + name)
    if direct:
        return direct
    file_var = env.get(ENV_PREFIX + name + "_FILE")
    if file_var:
        return _secret_file_value(file_var, f"{ENV_PREFIX}{name}_FILE")
    generate, purpose = _SECRETS[name]
    if environment == "production":
        raise ConfigError(
            f"{ENV_PREFIX}{name} is not set ({purpose}). In production every secret must be "
            f"given, either as {ENV_PREFIX}{name} or as a file named by {ENV_PREFIX}{name}_FILE."
        )
    # Development and tests: keep one generated value per instance folder, so restarts keep
    # sessions, keys and resident data readable. Never a fixed fallback secret.
    from webguard.secret_files import development_secret

    try:
        return development_secret(instance_path / "secrets", name.lower(), lambda: str(generate()))
    except ValueError as exc:  # the folder cannot be made private
        raise ConfigError(str(exc)) from None


def decode_key(name: str, value: str) -> bytes:
    """A 32-byte key given as base64 (standard or URL-safe alphabet)."""
    text = value.strip()
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        else:
            raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be base64 of 32 random bytes") from None
    if len(raw) != 32:
        raise ConfigError(f"{ENV_PREFIX}{name} must be base64 of 32 random bytes")
    return raw


def _pkcs11_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Optional: the master key inside a hardware security module (services/hsm.py).

    With CARDSERVICE_PKCS11_MODULE set, new data keys are wrapped in the token; the local
    CARDSERVICE_MASTER_KEY then only unwraps what it wrapped before, until `keys rewrap` has moved
    every data key into the token.
    """
    module = (env.get(ENV_PREFIX + "PKCS11_MODULE") or "").strip()
    if not module:
        return {"PKCS11_MODULE": ""}
    settings: dict[str, Any] = {"PKCS11_MODULE": module}
    for name in ("PKCS11_TOKEN_LABEL", "PKCS11_KEY_LABEL"):
        value = (env.get(ENV_PREFIX + name) or "").strip()
        if not value:
            raise ConfigError(f"{ENV_PREFIX}PKCS11_MODULE is set: {ENV_PREFIX}{name} is needed too")
        settings[name] = value
    pin = env.get(ENV_PREFIX + "PKCS11_PIN") or ""
    pin_file = env.get(ENV_PREFIX + "PKCS11_PIN_FILE")
    if not pin and pin_file:
        pin = _secret_file_value(pin_file, f"{ENV_PREFIX}PKCS11_PIN_FILE")
    if not pin:
        raise ConfigError(
            f"{ENV_PREFIX}PKCS11_MODULE is set: give the token's user PIN as "
            f"{ENV_PREFIX}PKCS11_PIN or in a file named by {ENV_PREFIX}PKCS11_PIN_FILE"
        )
    settings["PKCS11_PIN"] = pin
    settings["PKCS11_PREVIOUS_KEY_LABELS"] = [
        label.strip()
        for label in (env.get(ENV_PREFIX + "PKCS11_PREVIOUS_KEY_LABELS") or "").split(",")
        if label.strip()
    ]
    return settings


def _ratelimit_settings(env: Mapping[str, str], environment: str) -> dict[str, Any]:
    """Sign-in attempts per client address (cardservice/ratelimit.py), Flask-Limiter's keys.

    Off by default only in testing, where a whole suite signs in from one address within
    seconds; CARDSERVICE_RATELIMIT_ENABLED=true turns it on there (its own tests do).
    """
    from limits import parse_many

    enabled_raw = env.get(ENV_PREFIX + "RATELIMIT_ENABLED")
    try:
        enabled = (
            _coerce(enabled_raw, True) if enabled_raw is not None else environment != "testing"
        )
    except ConfigError as exc:
        raise ConfigError(f"{ENV_PREFIX}RATELIMIT_ENABLED: {exc}") from None
    login = (env.get(ENV_PREFIX + "RATELIMIT_LOGIN") or "10 per minute").strip()
    search = (env.get(ENV_PREFIX + "RATELIMIT_SEARCH") or "30 per minute").strip()
    for name, value in (("RATELIMIT_LOGIN", login), ("RATELIMIT_SEARCH", search)):
        try:
            parse_many(value)
        except ValueError:
            raise ConfigError(
                f"{ENV_PREFIX}{name} must be a limit such as '10 per minute', got {value!r}"
            ) from None
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
    roles = tuple(item.strip() for item in str(raw).split(",") if item.strip())
    unknown = [role for role in roles if role not in ("clerk", "supervisor", "admin")]
    if unknown:
        raise ConfigError(
            f"{ENV_PREFIX}MFA_REQUIRED_ROLES names unknown roles {', '.join(unknown)}: use "
            "clerk, supervisor and admin, comma-separated"
        )
    return roles


def _trusted_proxy_addresses(raw: str) -> tuple[str, ...]:
    from webguard.proxy import parse_networks

    items = tuple(item.strip() for item in raw.split(",") if item.strip())
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

    secret = env.get(ENV_PREFIX + "OIDC_CLIENT_SECRET") or None
    secret_file = env.get(ENV_PREFIX + "OIDC_CLIENT_SECRET_FILE")
    if not secret and secret_file:
        secret = _secret_file_value(secret_file, f"{ENV_PREFIX}OIDC_CLIENT_SECRET_FILE")
    try:
        return auth_settings(env, production=production, oidc_secret=secret)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


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
    for name in _SECRETS:
        config[name] = _load_secret(name, env, instance_path, environment)
    # The data-key store (models.keystore): a database of its own, so that a backup of the
    # resident database holds ciphertext whose keys are elsewhere. create_app() turns it into the
    # `keystore` bind. Checked after the secrets, which an operator sets up first.
    config["KEYSTORE_DATABASE_URI"] = _keystore_url(env, instance_path, database_url, production)
    # After a master-key rotation the old keys stay here (comma-separated) until
    # `cardservice keys rewrap` has re-wrapped every data key under the new one.
    config["PREVIOUS_MASTER_KEYS"] = [
        value.strip()
        for value in (env.get(ENV_PREFIX + "PREVIOUS_MASTER_KEYS") or "").split(",")
        if value.strip()
    ]
    config.update(_pkcs11_settings(env))
    config.update(_ratelimit_settings(env, environment))
    config.update(_auth_settings(env, production))
    if production:
        from .services.keyseal import passphrase_weakness

        weakness = passphrase_weakness(config["KEY_PASSPHRASE"])
        if weakness:
            raise ConfigError(
                f"{ENV_PREFIX}KEY_PASSPHRASE is too weak to protect the root and signing keys: "
                f"{weakness}. Use a long random value, e.g. `openssl rand -base64 32`."
            )
    # Fail early, with the variable's name, rather than on the first enrolment.
    decode_key("MASTER_KEY", config["MASTER_KEY"])
    decode_key("INDEX_KEY", config["INDEX_KEY"])
    for value in config["PREVIOUS_MASTER_KEYS"]:
        decode_key("PREVIOUS_MASTER_KEYS", value)
    return config
