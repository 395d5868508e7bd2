"""What services need besides the session and the clock, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from ..keyconfig import decode_key
from .crypto import LocalMasterKeyProvider, MasterKeyProvider, ResidentCipher
from .keyseal import KeySealer
from .policy import Policy, load_policy

EXTENSION_KEY = "cardservice"


@dataclass(frozen=True, kw_only=True)
class Deps:
    """Dependencies of the services: the policy, the resident cipher, the key passphrase.

    Views get it with ``deps()``; tests and the CLI can build their own.
    """

    policy: Policy
    cipher: ResidentCipher
    key_passphrase: bytes
    # Seals and opens the root and signing keys; keeps the passphrase's derived key per process.
    key_sealer: KeySealer
    public_url: str
    # The card's title as configured (CARDSERVICE_CARD_TITLE); "" for the built-in one.
    card_title: str = ""
    # The locale of the city's date conventions (CARDSERVICE_CITY_LOCALE); "" to derive it.
    city_locale: str = ""
    # The card printer's IPP URI and CA file (CARDSERVICE_CARD_PRINTER_URI); "" for none.
    card_printer_uri: str = ""
    card_printer_ca_file: str = ""


def build_deps(app: Flask) -> Deps:
    config = app.config
    provider: MasterKeyProvider = LocalMasterKeyProvider(
        decode_key("MASTER_KEY", config["MASTER_KEY"]),
        [decode_key("PREVIOUS_MASTER_KEYS", v) for v in config.get("PREVIOUS_MASTER_KEYS", [])],
    )
    if config.get("PKCS11_MODULE"):
        from .hsm import ChainedMasterKeyProvider, Pkcs11MasterKeyProvider

        # The token wraps from now on; the local key still opens what it wrapped before.
        hsm = Pkcs11MasterKeyProvider(
            module=config["PKCS11_MODULE"],
            token_label=config["PKCS11_TOKEN_LABEL"],
            pin=config["PKCS11_PIN"],
            key_label=config["PKCS11_KEY_LABEL"],
            previous_labels=config.get("PKCS11_PREVIOUS_KEY_LABELS", []),
        )
        provider = ChainedMasterKeyProvider(hsm, [provider])
    passphrase = config["KEY_PASSPHRASE"].encode("utf-8")
    return Deps(
        policy=load_policy(config["POLICY"]),
        cipher=ResidentCipher(provider, decode_key("INDEX_KEY", config["INDEX_KEY"])),
        key_passphrase=passphrase,
        key_sealer=KeySealer(passphrase),
        public_url=config["PUBLIC_URL"],
        card_title=config.get("CARD_TITLE", ""),
        city_locale=config.get("CITY_LOCALE", ""),
        card_printer_uri=config.get("CARD_PRINTER_URI", ""),
        card_printer_ca_file=config.get("CARD_PRINTER_CA_FILE", ""),
    )


def deps(app: Flask | None = None) -> Deps:
    """The Deps of the given app or of the current app."""
    target = app if app is not None else current_app
    result: Deps = target.extensions[EXTENSION_KEY]
    return result
