"""The verifier's libsodium-backed keys behave as cryptography's, and refuse what it accepts."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature

from cardformat import generate_key, public_key_bytes
from tests.vectors.generate_cards import sign_with_identity_r
from verifier.ed25519 import SodiumPublicKey

MESSAGE = b"Signature1 over a card"


def test_a_good_signature_verifies() -> None:
    key = generate_key()
    SodiumPublicKey(public_key_bytes(key)).verify(key.sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize("flip", [0, 31, 32, 63])
def test_a_changed_signature_or_message_raises_invalid_signature(flip: int) -> None:
    key = generate_key()
    sodium = SodiumPublicKey(public_key_bytes(key))
    signature = bytearray(key.sign(MESSAGE))
    signature[flip] ^= 0x01
    with pytest.raises(InvalidSignature):
        sodium.verify(bytes(signature), MESSAGE)
    with pytest.raises(InvalidSignature):
        sodium.verify(key.sign(MESSAGE), MESSAGE + b".")


def test_libsodium_refuses_an_identity_r_that_openssl_accepts() -> None:
    """Why cardformat refuses a small-order R itself: the libraries disagree on it."""
    key = generate_key()
    signature = sign_with_identity_r(key, MESSAGE)
    key.public_key().verify(signature, MESSAGE)  # OpenSSL, through cryptography: accepted
    with pytest.raises(InvalidSignature):
        SodiumPublicKey(public_key_bytes(key)).verify(signature, MESSAGE)
