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


# --- points of small order -------------------------------------------------------------------
# A few lines of affine Edwards arithmetic (RFC 8032, section 5.1.4) derive the eight points of
# small order independently of the constants in cardformat/keys.py.

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY = (0, 1)


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (
        (x1 * y2 + y1 * x2) * pow(1 + t, -1, P) % P,
        (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P,
    )


def _times(n: int, point: tuple[int, int]) -> tuple[int, int]:
    result = IDENTITY
    while n:
        if n & 1:
            result = _add(result, point)
        point, n = _add(point, point), n >> 1
    return result


def _point_with_y(y: int) -> tuple[int, int] | None:
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if x * x % P != x2:
        x = x * pow(2, (P - 1) // 4, P) % P
    return (x, y) if x * x % P == x2 else None


def _encode(point: tuple[int, int]) -> bytes:
    x, y = point
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _small_order_points() -> list[tuple[int, int]]:
    """All eight: the multiples of a point of order 8, found as GROUP_ORDER * (a curve point)."""
    for y in range(2, 100):
        point = _point_with_y(y)
        if point is None:
            continue
        torsion = _times(GROUP_ORDER, point)
        if _times(4, torsion) != IDENTITY:  # order exactly 8: it generates all eight
            return [_times(k, torsion) for k in range(8)]
    raise AssertionError("no point with a torsion component of order 8 below y = 100")


SMALL_ORDER = _small_order_points()


def test_the_eight_small_order_points_are_distinct_and_of_small_order() -> None:
    assert len(set(SMALL_ORDER)) == 8
    assert all(_times(8, point) == IDENTITY for point in SMALL_ORDER)


@pytest.mark.parametrize("point", SMALL_ORDER, ids=lambda p: f"y={p[1] % 1000}")
def test_a_public_key_of_small_order_is_refused(point: tuple[int, int]) -> None:
    with pytest.raises(cf.MalformedError, match="small order"):
        cf.load_public_key(_encode(point))


@pytest.mark.parametrize("point", SMALL_ORDER, ids=lambda p: f"y={p[1] % 1000}")
def test_small_order_r_is_recognised_in_every_encoding(point: tuple[int, int]) -> None:
    from cardformat.keys import is_small_order_point

    x, y = point
    assert is_small_order_point(_encode(point))
    assert is_small_order_point(_encode((x ^ 1, y)))  # the sign bit is ignored
    if y + P < 2**255:  # y = 0 and y = 1 also have an encoding at y + P
        assert is_small_order_point((y + P).to_bytes(32, "little"))


def test_strong_keys_are_accepted_and_are_not_small_order() -> None:
    from cardformat.keys import is_small_order_point

    for _ in range(200):
        raw = cf.public_key_bytes(cf.generate_key())
        assert cf.load_public_key(raw) is not None
        assert not is_small_order_point(raw)


def test_a_non_canonical_or_off_curve_public_key_is_refused() -> None:
    on_curve = next(y for y in range(2, 19) if _point_with_y(y) is not None)
    off_curve = next(y for y in range(2, 100) if _point_with_y(y) is None)
    assert cf.load_public_key(on_curve.to_bytes(32, "little")) is not None
    for raw in (
        (on_curve + P).to_bytes(32, "little"),  # the same point, y not reduced modulo P
        off_curve.to_bytes(32, "little"),  # no x for this y
        (1 | 1 << 255).to_bytes(32, "little"),  # x = 0 has no negative
    ):
        with pytest.raises(cf.MalformedError):
            cf.load_public_key(raw)


def test_libsodium_agrees_on_which_points_are_usable() -> None:
    """The verifier checks signatures with libsodium: it refuses the same points."""
    from nacl.bindings import crypto_core_ed25519_is_valid_point

    for point in SMALL_ORDER:
        assert not crypto_core_ed25519_is_valid_point(_encode(point))
    for _ in range(50):
        raw = cf.public_key_bytes(cf.generate_key())
        assert crypto_core_ed25519_is_valid_point(raw)
