"""Configuration of the verifier, read from the environment (12-factor).

Every setting is a ``VERIFIER_``-prefixed environment variable; the Flask config key is the name
without the prefix. A test (or an embedding) passes a mapping to ``create_app`` that wins over the
environment. The secret key is the one setting with a development fallback: it is generated into
the instance folder once, and a production instance refuses to start without it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from webguard.proxy import parse_networks
from webguard.ratelimit import require_shared_storage

PREFIX = "VERIFIER_"
SECRET_KEY_FILE = "secret_key"

LANGUAGES = ("fr", "en", "es", "pt", "ar")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{PREFIX}{name} must be a boolean (true/false), not {raw!r}")


def _parse_int(name: str, raw: str, *, minimum: int = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}")
    return value


def _parse_duration(name: str, raw: str) -> int:
    """Seconds, or a number followed by s, m, h or d (``7d``), to keep env files readable."""
    text = raw.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    factor = 1
    if text and text[-1] in units:
        factor = units[text[-1]]
        text = text[:-1]
    return _parse_int(name, text, minimum=1) * factor


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


# name -> (parser, default). Parsers turn the environment's text into the typed value.
_SETTINGS: dict[str, tuple[Any, Any]] = {
    "ENV": (str, "development"),
    "INSTANCE_PATH": (str, "instance"),
    "SECRET_KEY": (str, None),
    "RATELIMIT_STORAGE_URI": (str, "memory://"),
    # Per client address. An agent scans a card every few seconds at most; a script trying
    # forgeries or harvesting the trust snapshot hits this quickly.
    "RATELIMIT_API": (str, "120 per minute"),
    "RATELIMIT_ENABLED": (_parse_bool, True),
    "CORS_ORIGINS": (_parse_list, ()),
    "MAX_STATUS_AGE": (_parse_duration, 7 * 86400),
    # Size limits are checked before anything is parsed. A QR code holds at most 4,296
    # alphanumeric characters, so 8 KiB of JSON is plenty for any card, ours or a future one.
    "MAX_VERIFY_BYTES": (_parse_int, 8192),
    "MAX_IMAGE_BYTES": (_parse_int, 12 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": (_parse_int, 40_000_000),
    # Memory one uploaded photo may take while decoded and read (verifier/api/images.py): any
    # baseline JPEG up to MAX_IMAGE_PIXELS (decoded straight to grey), a PNG, WebP or GIF of
    # about 19 to 33 Mpx, a progressive JPEG of about 22 Mpx.
    "MAX_IMAGE_DECODE_MB": (_parse_int, 128),
    "DEFAULT_LANGUAGE": (str, "en"),
    # Seconds a verdict stays on the agent page before it clears for the next person.
    "AGENT_CLEAR_SECONDS": (_parse_duration, 20),
    # Number of reverse proxies in front of the app whose X-Forwarded-For may be trusted (0:
    # none). Rate limiting is per client address, so this must match the deployment.
    "TRUSTED_PROXIES": (_parse_int, 0),
    # The addresses (or networks) those proxies connect from: forwarded headers from anyone else
    # are ignored, so a client reaching the app's port directly cannot choose its own address.
    "TRUSTED_PROXY_ADDRESSES": (_parse_list, ("127.0.0.1", "::1")),
    # Seconds between checks of the trust store file for a new version (0: every request).
    "TRUST_RELOAD_INTERVAL": (float, 1.0),
    "SYNC_TIMEOUT": (_parse_duration, 10),
    "SYNC_RETRIES": (_parse_int, 1),
    "SYNC_WORKERS": (_parse_int, 8),
}


def _parse_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{PREFIX}{name} must not be negative")
    return value


def _parser_for(name: str) -> Any:
    parser = _SETTINGS[name][0]
    if parser is float:
        return _parse_float
    if parser is str:
        return lambda _name, raw: raw
    if parser is _parse_list:
        return lambda _name, raw: _parse_list(raw)
    return parser


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults, then ``VERIFIER_*`` variables, then ``overrides``; validated and typed."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = {name: default for name, (_p, default) in _SETTINGS.items()}
    for name in _SETTINGS:
        raw = environ.get(PREFIX + name)
        if raw is not None:
            config[name] = _parser_for(name)(name, raw)
    if overrides:
        config.update(overrides)

    if config["ENV"] not in {"development", "production", "testing"}:
        raise ConfigError(f"{PREFIX}ENV must be development, production or testing")
    if config["DEFAULT_LANGUAGE"] not in LANGUAGES:
        raise ConfigError(f"{PREFIX}DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
    for origin in config["CORS_ORIGINS"]:
        if origin == "*" or not origin.startswith(("https://", "http://")):
            # A wildcard would let any web page read verification answers (names, birth dates).
            raise ConfigError(f"{PREFIX}CORS_ORIGINS must list explicit origins, not {origin!r}")
    try:
        parse_networks(config["TRUSTED_PROXY_ADDRESSES"])
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}TRUSTED_PROXY_ADDRESSES: {exc}") from None
    config["INSTANCE_PATH"] = str(Path(config["INSTANCE_PATH"]).resolve())
    config["MAX_STATUS_AGE"] = int(config["MAX_STATUS_AGE"])
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    # The largest body any endpoint accepts; each endpoint narrows it for itself.
    config["MAX_CONTENT_LENGTH"] = max(config["MAX_VERIFY_BYTES"], config["MAX_IMAGE_BYTES"]) + 4096
    config["RATELIMIT_HEADERS_ENABLED"] = True
    config["JSON_SORT_KEYS"] = False
    return config


def ensure_secret_key(config: dict[str, Any]) -> None:
    """Production: the secret must come from the environment. Elsewhere: generate it once."""
    if config.get("SECRET_KEY"):
        return
    if config["ENV"] == "production":
        raise ConfigError(
            f"{PREFIX}SECRET_KEY is required when {PREFIX}ENV=production; "
            "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    path = Path(config["INSTANCE_PATH"]) / SECRET_KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        config["SECRET_KEY"] = path.read_text().strip()
    if config.get("SECRET_KEY"):
        return
    key = secrets.token_hex(32)
    # Written in full to a private temporary file, then hard-linked into place: link() fails if
    # the name exists, so when several workers start at once exactly one key wins, and nobody
    # ever reads a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_text().strip()
    finally:
        os.unlink(tmp)
    config["SECRET_KEY"] = key


def ensure_shared_ratelimit_storage(config: Mapping[str, Any]) -> None:
    """Production: the API limit is counted where every worker and server sees the same count
    (webguard.ratelimit.require_shared_storage says why)."""
    if config["ENV"] == "production" and config["RATELIMIT_ENABLED"]:
        try:
            require_shared_storage(
                str(config["RATELIMIT_STORAGE_URI"]),
                setting=f"{PREFIX}RATELIMIT_STORAGE_URI",
                limit="the API limit",
                docs="docs/verifier.md",
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
