"""Settings of the key material: the app's secrets, the previous master keys, the master key in
a hardware security module. Read by config.load_config(); docs/operations.md ("Secrets" and
"Rotating the master key") says how an operator gives them.

Secrets never have defaults: they come from ``CARDSERVICE_<NAME>`` or from a file named by
``CARDSERVICE_<NAME>_FILE``. In development and testing a missing secret is generated once into
the instance folder (mode 0600); in production a missing secret stops the app with a clear message.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .envsettings import ENV_PREFIX, ConfigError, comma_list, env_secret

# name -> (how to generate a development value, what it is for). Generated values are text.
SECRETS: dict[str, tuple[Any, str]] = {
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


def load_secret(name: str, env: Mapping[str, str], instance_path: Path, environment: str) -> str:
    given = env_secret(env, name)
    if given:
        return given
    generate, purpose = SECRETS[name]
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


def previous_master_keys(env: Mapping[str, str]) -> list[str]:
    """After a master-key rotation the old keys stay here (comma-separated) until
    `cardservice keys rewrap` has re-wrapped every data key under the new one."""
    return list(comma_list(env.get(ENV_PREFIX + "PREVIOUS_MASTER_KEYS") or ""))


def pkcs11_settings(env: Mapping[str, str]) -> dict[str, Any]:
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
    pin = env_secret(env, "PKCS11_PIN")
    if not pin:
        raise ConfigError(
            f"{ENV_PREFIX}PKCS11_MODULE is set: give the token's user PIN as "
            f"{ENV_PREFIX}PKCS11_PIN or in a file named by {ENV_PREFIX}PKCS11_PIN_FILE"
        )
    settings["PKCS11_PIN"] = pin
    settings["PKCS11_PREVIOUS_KEY_LABELS"] = list(
        comma_list(env.get(ENV_PREFIX + "PKCS11_PREVIOUS_KEY_LABELS") or "")
    )
    return settings


def check_keys(config: Mapping[str, Any], *, production: bool) -> None:
    """Fail at the start, with the variable's name, rather than on the first enrolment or
    signature."""
    if production:
        from .services.keyseal import passphrase_weakness

        weakness = passphrase_weakness(config["KEY_PASSPHRASE"])
        if weakness:
            raise ConfigError(
                f"{ENV_PREFIX}KEY_PASSPHRASE is too weak to protect the root and signing keys: "
                f"{weakness}. Use a long random value, e.g. `openssl rand -base64 32`."
            )
    decode_key("MASTER_KEY", config["MASTER_KEY"])
    decode_key("INDEX_KEY", config["INDEX_KEY"])
    for value in config["PREVIOUS_MASTER_KEYS"]:
        decode_key("PREVIOUS_MASTER_KEYS", value)
