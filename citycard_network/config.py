"""The tool's settings, from the environment: its instance folder and the root key's passphrase.

As in the apps: production refuses to run without the passphrase (``CITYCARD_NETWORK_KEY_
PASSPHRASE``, or a file named by ``CITYCARD_NETWORK_KEY_PASSPHRASE_FILE``) and refuses a weak
one; development and testing generate one once into the instance folder (``secrets/``, 0600).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from webguard.keyseal import passphrase_weakness
from webguard.secret_files import development_secret, private_folder, read_secret_file

PREFIX = "CITYCARD_NETWORK_"
ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    environment: str
    environ: Mapping[str, str]

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def passphrase(self) -> bytes:
        """The root key's passphrase; read only by the commands that open or seal the key."""
        name = PREFIX + "KEY_PASSPHRASE"
        value = self.environ.get(name)
        file_name = self.environ.get(name + "_FILE")
        if not value and file_name:
            try:
                value = read_secret_file(file_name, name + "_FILE")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if not value:
            if self.production:
                raise ConfigError(
                    f"{name} is not set (it encrypts the network's root key at rest). In "
                    f"production it must be given, either as {name} or as a file named by "
                    f"{name}_FILE."
                )
            try:
                value = development_secret(
                    self.instance_path / "secrets",
                    "key_passphrase",
                    lambda: secrets.token_urlsafe(32),
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif self.production:
            weakness = passphrase_weakness(value)
            if weakness:
                raise ConfigError(
                    f"{name} is too weak to protect the network's root key: {weakness}. Use a "
                    "long random value, e.g. `openssl rand -base64 32`."
                )
        return value.encode("utf-8")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    environment = environ.get(PREFIX + "ENV", "development").strip() or "development"
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"{PREFIX}ENV must be development, production or testing")
    folder = Path(environ.get(PREFIX + "INSTANCE_PATH") or "network-instance").resolve()
    try:
        private_folder(folder)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Settings(instance_path=folder, environment=environment, environ=dict(environ))
