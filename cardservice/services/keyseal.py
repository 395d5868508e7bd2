"""The root and signing keys at rest: AES-256-GCM under a key derived from the passphrase.

Format (version 1), self-describing so that any copy, a backup included, can be opened with the
passphrase alone::

    b"citycard-key\\x00\\x01" || CBOR [header, nonce, ciphertext]
    header = {"kdf": "argon2id", "m": KiB, "t": passes, "p": lanes, "salt": 16 bytes}

The key-encryption key (KEK) is argon2id(passphrase, salt, m, t, p) -> 32 bytes; the ciphertext
is AES-256-GCM of the raw 32-byte Ed25519 private key with a random 96-bit nonce, the magic and
the canonical CBOR of the header as associated data (a changed parameter or salt fails to open).

Cost: OWASP's Password Storage Cheat Sheet minimum for argon2id, m = 19 MiB (19,456 KiB), t = 2,
p = 1: 22 to 40 ms and 19 MiB per derivation here (bench/bench_keyseal.py). One salt serves the
whole city (it is recorded with the passphrase's check value, services.keycheck), so a process
derives one KEK once and keeps it: signing a card pays no derivation, and a rotation seals the
new key with the KEK already derived. The passphrase is never cached anywhere but the app's
configuration, which already holds it.

The older form, PKCS#8 PEM encrypted by `cardformat.dump_private_key` (PBKDF2, 2,048
iterations), still opens; `cardservice keys reencrypt` rewrites such keys in this format.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import cbor2
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import cardformat
from cardformat import KeyFileError

MAGIC = b"citycard-key\x00\x01"
# OWASP Password Storage Cheat Sheet, argon2id: "m=19456 (19 MiB), t=2, p=1".
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
SALT_BYTES = 16
_NONCE_BYTES = 12
# Bounds on parameters read from the database, so a damaged or hostile row cannot make a start
# derive with gigabytes of memory or with no cost at all.
_MEMORY_RANGE = (ARGON2_MEMORY_KIB, 4 * 1024 * 1024)
_TIME_RANGE = (1, 64)


@dataclass(frozen=True)
class KdfParams:
    salt: bytes
    memory_kib: int = ARGON2_MEMORY_KIB
    time_cost: int = ARGON2_TIME_COST
    parallelism: int = ARGON2_PARALLELISM

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(salt=os.urandom(SALT_BYTES))

    def header(self) -> dict[str, object]:
        return {
            "kdf": "argon2id",
            "m": self.memory_kib,
            "t": self.time_cost,
            "p": self.parallelism,
            "salt": self.salt,
        }


def _aad(params: KdfParams) -> bytes:
    return MAGIC + cbor2.dumps(params.header(), canonical=True)


def _parse(blob: bytes) -> tuple[KdfParams, bytes, bytes]:
    try:
        header, nonce, ciphertext = cbor2.loads(blob[len(MAGIC) :])
        if header["kdf"] != "argon2id":
            raise ValueError("unknown key derivation")
        params = KdfParams(
            salt=bytes(header["salt"]),
            memory_kib=int(header["m"]),
            time_cost=int(header["t"]),
            parallelism=int(header["p"]),
        )
    except (ValueError, TypeError, KeyError, cbor2.CBORDecodeError):
        raise KeyFileError("the stored key is damaged") from None
    if not (
        _MEMORY_RANGE[0] <= params.memory_kib <= _MEMORY_RANGE[1]
        and _TIME_RANGE[0] <= params.time_cost <= _TIME_RANGE[1]
        and params.parallelism == ARGON2_PARALLELISM
        and len(params.salt) == SALT_BYTES
        and isinstance(nonce, bytes)
        and len(nonce) == _NONCE_BYTES
        and isinstance(ciphertext, bytes)
    ):
        raise KeyFileError("the stored key is damaged")
    return params, nonce, ciphertext


def is_legacy(blob: bytes) -> bool:
    """A key still in the PKCS#8 form (PBKDF2): `cardservice keys reencrypt` rewrites it."""
    return not bytes(blob).startswith(MAGIC)


def params_of(blob: bytes) -> KdfParams | None:
    """The KDF parameters (salt included) of a sealed blob; None for a PKCS#8 key."""
    blob = bytes(blob)
    return None if is_legacy(blob) else _parse(blob)[0]


class KeySealer:
    """Seals and opens keys with one passphrase; derives each salt's KEK once per process.

    `current` is the parameter set new keys are sealed with: the city's, adopted from its check
    value (services.keycheck) at start, or a fresh one on first use.
    """

    def __init__(self, passphrase: bytes) -> None:
        if not passphrase:
            raise ValueError("a passphrase is required to store a private key")
        self._passphrase = passphrase
        self._lock = threading.Lock()
        self._keks: dict[KdfParams, AESGCM] = {}
        self._opened: dict[bytes, Ed25519PrivateKey] = {}
        self.current: KdfParams | None = None

    def _kek(self, params: KdfParams) -> AESGCM:
        with self._lock:
            kek = self._keks.get(params)
            if kek is None:
                raw = hash_secret_raw(
                    self._passphrase,
                    params.salt,
                    time_cost=params.time_cost,
                    memory_cost=params.memory_kib,
                    parallelism=params.parallelism,
                    hash_len=32,
                    type=Type.ID,
                )
                kek = AESGCM(raw)
                self._keks[params] = kek
            return kek

    def adopt(self, params: KdfParams) -> None:
        """Seal new keys under `params` from now on (the city's recorded salt)."""
        self.current = params

    def seal_bytes(self, secret: bytes, params: KdfParams | None = None) -> bytes:
        if params is None:
            if self.current is None:
                self.current = KdfParams.fresh()
            params = self.current
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._kek(params).encrypt(nonce, secret, _aad(params))
        return MAGIC + cbor2.dumps([params.header(), nonce, ciphertext], canonical=True)

    def open_bytes(self, blob: bytes) -> bytes:
        params, nonce, ciphertext = _parse(blob)
        try:
            return self._kek(params).decrypt(nonce, ciphertext, _aad(params))
        except InvalidTag:
            raise KeyFileError(
                "cannot decrypt the private key: wrong passphrase or damaged key"
            ) from None

    def seal(self, key: Ed25519PrivateKey, params: KdfParams | None = None) -> bytes:
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return self.seal_bytes(raw, params)

    def open(self, blob: bytes) -> Ed25519PrivateKey:
        """Either form: version 1, or the older PKCS#8 PEM (raises KeyFileError).

        Opened keys are kept, by their stored bytes (a rotated key has new bytes), so signing
        pays neither the KDF nor the decryption after the first time in a process."""
        blob = bytes(blob)
        with self._lock:
            cached = self._opened.get(blob)
        if cached is not None:
            return cached
        if is_legacy(blob):
            key = cardformat.load_private_key(blob, self._passphrase)
        else:
            raw = self.open_bytes(blob)
            if len(raw) != 32:
                raise KeyFileError("the private key is not an Ed25519 key")
            key = Ed25519PrivateKey.from_private_bytes(raw)
        with self._lock:
            if len(self._opened) > 32:
                self._opened.clear()
            self._opened[blob] = key
        return key


# Production refuses a passphrase weaker than this (config.load_config). Length alone lets
# "Tr0ub4dor&3Tr0ub4dor&3" through (22 characters, about 10^11 guesses for zxcvbn); zxcvbn's
# estimate counts dictionary words, repeats, keyboard walks and dates. 10^14 guesses at the cost
# above (20 ms of one core each, to be generous to an attacker) take over 60,000 core-years.
MIN_PASSPHRASE_CHARS = 16
MIN_PASSPHRASE_GUESSES_LOG10 = 14.0
# zxcvbn's matching grows quickly with length; what lies beyond this only adds strength.
_ZXCVBN_MAX_CHARS = 72  # zxcvbn 4.5 refuses longer input (ValueError)


def passphrase_weakness(passphrase: str) -> str | None:
    """Why the passphrase is too weak to protect the keys, or None. Never quotes it."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        return f"it has fewer than {MIN_PASSPHRASE_CHARS} characters"
    from zxcvbn import zxcvbn

    estimate = float(zxcvbn(passphrase[:_ZXCVBN_MAX_CHARS])["guesses_log10"])
    if estimate < MIN_PASSPHRASE_GUESSES_LOG10:
        return (
            f"it would be found in about 10^{estimate:.0f} guesses (words, repeats or patterns); "
            f"at least 10^{MIN_PASSPHRASE_GUESSES_LOG10:.0f} are required"
        )
    return None
