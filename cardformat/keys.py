"""Ed25519 keys: generation, encrypted storage, key ids and root fingerprints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError, KeyRevokedError, MalformedError

KID_LENGTH = 8
PUBLIC_KEY_LENGTH = 32

# Ed25519 encodes a point as its y coordinate modulo the prime P (255 bits, little-endian) and
# the sign of x in the top bit (RFC 8032, section 5.1.2).
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_Y_MASK = (1 << 255) - 1
# The curve has cofactor 8: eight points of small order, which a key or a signature's R must
# never be. Their y coordinates: 1 (the identity), P - 1 (order 2), 0 (the two of order 4) and
# the two of order 8 (tests/unit/cardformat/test_keys.py derives them by point arithmetic).
_Y_ORDER_8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({1, _P - 1, 0, _Y_ORDER_8, _P - _Y_ORDER_8})
# Every 32-byte string that decodes to one of them: either sign bit, and 0 and 1 also as the
# unreduced P and P + 1. A set lookup keeps the check off the cost of verifying a card.
_SMALL_ORDER_ENCODINGS = frozenset(
    (y | sign << 255).to_bytes(PUBLIC_KEY_LENGTH, "little")
    for y in _SMALL_ORDER_Y | {_P, _P + 1}
    for sign in (0, 1)
)


class KeyState(StrEnum):
    """Life cycle of a signing key (docs/federation.md)."""

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
    """A published public key, refused unless it is the canonical encoding of a strong point."""
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_LENGTH:
        raise MalformedError("an Ed25519 public key is 32 raw bytes")
    y = int.from_bytes(raw, "little") & _Y_MASK
    x_is_odd = raw[31] >> 7
    if y >= _P or not _has_x(y, x_is_odd):
        raise MalformedError("the public key is not a point of Ed25519")
    if is_small_order_point(raw):
        # Under a key of small order anyone can make signatures that some Ed25519
        # implementations accept: a city's mistake would let anyone forge its cards.
        raise MalformedError("the public key is a point of small order")
    return Ed25519PublicKey.from_public_bytes(raw)


def _has_x(y: int, x_is_odd: int) -> bool:
    """Whether y is the y coordinate of a curve point with an x of that parity (RFC 8032 5.1.3)."""
    y2 = y * y % _P
    x2 = (y2 - 1) * pow(_D * y2 + 1, -1, _P) % _P
    if x2 == 0:
        return not x_is_odd  # x = 0 has no negative
    return pow(x2, (_P - 1) // 2, _P) == 1  # Euler's criterion: x2 is a square


def is_small_order_point(encoded: bytes) -> bool:
    """Whether 32 bytes encode one of the eight points of small order, canonically or not.

    A signature whose R is such a point is refused: libsodium does, OpenSSL does not, and the
    verdict must not depend on the library (docs/card-format.md, section 2, "Strict Ed25519").
    """
    return encoded in _SMALL_ORDER_ENCODINGS


class SignatureVerifier(Protocol):
    """What verification asks of a trusted public key; cryptography's Ed25519PublicKey is one.

    ``verify`` returns None for a good signature and raises cryptography's InvalidSignature
    otherwise. A verifier may bring a faster Ed25519 implementation this way (the verifier app
    uses libsodium) without cardformat importing it.
    """

    def verify(self, signature: bytes, data: bytes) -> None: ...


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
    ``not_before`` and ``not_after`` (the published ``nbf`` and ``exp``) bound when the key may
    sign at all: a token issued outside them fails too.
    """

    kid: bytes
    public_key: SignatureVerifier
    issuer: str
    state: KeyState = KeyState.ACTIVE
    retired_at: datetime | None = None
    issuer_name: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None


def check_key_validity(key: TrustedKey, issued_at: datetime, what: str) -> None:
    """Step 10 of verification for a token issued at ``issued_at`` under ``key``: refused when
    the key is revoked, or the token was issued after its retirement or outside the key's
    nbf..exp (docs/card-format.md section 4)."""
    if key.state is KeyState.REVOKED:
        raise KeyRevokedError(f"the {what}'s signing key has been revoked")
    if key.retired_at is not None and issued_at > key.retired_at:
        raise KeyRevokedError(f"the {what} was signed after its key was retired")
    if key.not_before is not None and issued_at < key.not_before:
        raise KeyRevokedError(f"the {what} was signed before its key's validity")
    if key.not_after is not None and issued_at >= key.not_after:
        raise KeyRevokedError(f"the {what} was signed after its key's validity")


KeyResolver = Callable[[bytes], TrustedKey | None]
"""Maps a key id to the trusted key, or None when no pinned issuer has it."""
