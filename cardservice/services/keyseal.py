"""The city's root and signing keys at rest: webguard.keyseal's format, plus the older one.

The sealed format (AES-256-GCM under an argon2id key derived from the passphrase) lives in
webguard.keyseal, shared with the network coordinator's tool. The older form, PKCS#8 PEM
encrypted by `cardformat.dump_private_key` (PBKDF2, 2,048 iterations), still opens here;
`cardservice keys reencrypt` rewrites such keys in the sealed format. Errors are cardformat's
KeyFileError, which the services already handle.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cardformat
from cardformat import KeyFileError
from webguard import keyseal as _shared
from webguard.keyseal import (
    ARGON2_MEMORY_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    MAGIC,
    MIN_PASSPHRASE_CHARS,
    MIN_PASSPHRASE_GUESSES_LOG10,
    SALT_BYTES,
    KdfParams,
    is_legacy,
    passphrase_weakness,
)


class KeySealer(_shared.KeySealer):
    """Seals and opens the city's keys; raises KeyFileError."""

    error = KeyFileError

    def _open_other(self, blob: bytes) -> Ed25519PrivateKey:
        return cardformat.load_private_key(blob, self._passphrase)


def params_of(blob: bytes) -> KdfParams | None:
    """The KDF parameters (salt included) of a sealed blob; None for a PKCS#8 key."""
    return _shared.params_of(blob, KeyFileError)


__all__ = [
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "MAGIC",
    "MIN_PASSPHRASE_CHARS",
    "MIN_PASSPHRASE_GUESSES_LOG10",
    "SALT_BYTES",
    "KdfParams",
    "KeySealer",
    "is_legacy",
    "params_of",
    "passphrase_weakness",
]
