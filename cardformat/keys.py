"""Ed25519 keys: generation, encrypted storage, key ids and root fingerprints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError, MalformedError

KID_LENGTH = 8
PUBLIC_KEY_LENGTH = 32


class KeyState(StrEnum):
    """Life cycle of a signing key (DESIGN.md section 4)."""

    ACTIVE = "active"
    RETIRED = "retired"  # still verifies what it signed before retirement
    REVOKED = "revoked"  # compromised: nothing it signed verifies


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key, the form every hash and document of this format uses."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_LENGTH:
        raise MalformedError("an Ed25519 public key is 32 raw bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> bytes:
    """First 8 bytes of SHA-256 over the raw public key."""
    raw = key if isinstance(key, bytes) else public_key_bytes(key)
    return hashlib.sha256(raw).digest()[:KID_LENGTH]


def fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """SHA-256 of the raw public key as 16 groups of 4 upper-case hex digits.

    Groups make it practical to read aloud or compare on paper when two cities pin each other.
    """
    raw = key if isinstance(key, bytes) else public_key_bytes(key)
    digest = hashlib.sha256(raw).hexdigest().upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def normalize_fingerprint(text: str) -> str:
    """Accept a fingerprint typed with any spacing, case or colons; return the canonical form."""
    digits = "".join(ch for ch in text if ch not in " :-\t").upper()
    if len(digits) != 64 or any(ch not in "0123456789ABCDEF" for ch in digits):
        raise MalformedError("a fingerprint is 64 hexadecimal digits")
    return " ".join(digits[i : i + 4] for i in range(0, 64, 4))


def dump_private_key(key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM, encrypted with the passphrase: keys never rest in clear."""
    if not passphrase:
        raise ValueError("a passphrase is required to store a private key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_private_key(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The library's message may say which of these it was; it never contains key material.
        raise KeyFileError(
            "cannot decrypt the private key: wrong passphrase or damaged file"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("the private key is not an Ed25519 key")
    return key


@dataclass(frozen=True, kw_only=True)
class TrustedKey:
    """A signing key a verifier trusts, as its resolver returns it.

    ``retired_at`` bounds what a retired key may still vouch for: tokens issued after it fail.
    """

    kid: bytes
    public_key: Ed25519PublicKey
    issuer: str
    state: KeyState = KeyState.ACTIVE
    retired_at: datetime | None = None
    issuer_name: str = ""


KeyResolver = Callable[[bytes], TrustedKey | None]
"""Maps a key id to the trusted key, or None when no pinned issuer has it."""
