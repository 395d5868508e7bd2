"""Ed25519 signature checks by libsodium, for the verifier's trusted keys.

The signature check is most of what a verification costs. libsodium's takes about half the
time of OpenSSL's (bench/bench_verify.py prints both), so the verifier hands cardformat keys
that check with libsodium (PyNaCl, from the same maintainers as cryptography). cardformat
itself keeps to cryptography and refuses what libsodium refuses (points of small order), so
both give the same verdict on every card: every card-format vector runs through cardformat's
own keys (tests/unit/cardformat/test_vectors.py) and through the verifier's
(tests/integration/verifier/test_card_vectors.py).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError


class SodiumPublicKey:
    """A raw Ed25519 public key (already checked by cardformat.load_public_key)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def verify(self, signature: bytes, data: bytes) -> None:
        """As cryptography's Ed25519PublicKey.verify: None, or InvalidSignature."""
        try:
            crypto_sign_open(signature + data, self.raw)
        except BadSignatureError:
            raise InvalidSignature from None
