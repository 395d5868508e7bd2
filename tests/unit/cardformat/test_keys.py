from __future__ import annotations

import hashlib
import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import cardformat as cf


def test_kid_is_first_8_bytes_of_sha256_of_raw_public_key() -> None:
    key = cf.generate_key()
    raw = cf.public_key_bytes(key)
    assert len(raw) == 32
    assert cf.key_id(key) == hashlib.sha256(raw).digest()[:8]
    assert cf.key_id(raw) == cf.key_id(key.public_key())


def test_fingerprint_is_16_groups_of_4_hex_digits() -> None:
    key = cf.generate_key()
    fp = cf.fingerprint(key)
    assert re.fullmatch(r"([0-9A-F]{4} ){15}[0-9A-F]{4}", fp)
    assert fp.replace(" ", "").lower() == hashlib.sha256(cf.public_key_bytes(key)).hexdigest()


def test_normalize_fingerprint_accepts_any_spacing_and_case() -> None:
    fp = cf.fingerprint(cf.generate_key())
    typed = fp.replace(" ", ":").lower()
    assert cf.normalize_fingerprint(typed) == fp
    with pytest.raises(cf.MalformedError):
        cf.normalize_fingerprint(fp[:-1])
    with pytest.raises(cf.MalformedError):
        cf.normalize_fingerprint(fp[:-1] + "G")


def test_private_key_round_trips_only_with_its_passphrase() -> None:
    key = cf.generate_key()
    pem = cf.dump_private_key(key, b"correct horse")
    assert b"ENCRYPTED" in pem
    loaded = cf.load_private_key(pem, b"correct horse")
    assert cf.public_key_bytes(loaded) == cf.public_key_bytes(key)
    with pytest.raises(cf.KeyFileError):
        cf.load_private_key(pem, b"wrong")
    with pytest.raises(cf.KeyFileError):
        cf.load_private_key(b"not a pem", b"correct horse")


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError):
        cf.dump_private_key(cf.generate_key(), b"")


def test_a_non_ed25519_key_file_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(cf.KeyFileError, match="not an Ed25519"):
        cf.load_private_key(pem, b"pw")


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_public_keys_must_be_32_bytes(raw: bytes) -> None:
    with pytest.raises(cf.MalformedError):
        cf.load_public_key(raw)
