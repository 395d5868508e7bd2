"""The COSE layer against the COSE working group's examples, and the card fast path.

The working group's EdDSA examples: eddsa-sig-01 (Ed25519) verifies; eddsa-sig-02 is Ed448,
which this format does not accept, so it must be refused. The sign1 pass and fail cases are
ES256, an algorithm this format refuses by design; each fail case is therefore checked twice:
the original is refused, and the same failure applied to an EdDSA token is refused with the
error the failure itself calls for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import cardformat as cf
from cardformat import cose
from cardformat.base45 import b45decode

from .conftest import VECTORS

COSE_WG = VECTORS / "standards" / "cose-wg"


def example(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((COSE_WG / f"{name}.json").read_text())


def test_eddsa_sig_01_verifies() -> None:
    case = example("eddsa-sig-01")
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(case["input"]["sign0"]["key"]["d_hex"])
    )
    data = bytes.fromhex(case["output"]["cbor"])
    message = cose.decode_sign1(data)
    assert cose.sig_structure(message.protected, message.payload) == bytes.fromhex(
        case["intermediates"]["ToBeSign_hex"]
    )
    cose.verify_signature(message, key.public_key())
    assert message.payload == case["input"]["plaintext"].encode()
    # It is a valid COSE_Sign1 but not this format's profile (kid unprotected, ctyp protected).
    with pytest.raises(cf.MalformedError):
        cose.read_header(message)


def test_eddsa_sig_02_ed448_is_refused() -> None:
    case = example("eddsa-sig-02")
    message = cose.decode_sign1(bytes.fromhex(case["output"]["cbor"]))
    with pytest.raises(cf.BadSignatureError, match="64 bytes"):
        cose.verify_signature(message, cf.generate_key().public_key())


@pytest.mark.parametrize(
    "name",
    [
        "sign-fail-01",
        "sign-fail-02",
        "sign-fail-03",
        "sign-fail-04",
        "sign-fail-06",
        "sign-fail-07",
    ],
)
def test_sign_fail_examples_are_refused(name: str) -> None:
    data = bytes.fromhex(example(name)["output"]["cbor"])
    with pytest.raises(cf.CardFormatError):
        message = cose.decode_sign1(data)
        cose.read_header(message)
        cose.verify_signature(message, cf.generate_key().public_key())


@pytest.mark.parametrize("name", ["sign-pass-01", "sign-pass-02", "sign-pass-03"])
def test_es256_pass_examples_are_refused_by_design(name: str) -> None:
    data = bytes.fromhex(example(name)["output"]["cbor"])
    with pytest.raises(cf.CardFormatError):
        message = cose.decode_sign1(data)
        cose.verify_signature(message, cf.generate_key().public_key())


KEY = cf.generate_key()
HEADER = {cose.HEADER_ALG: cose.ALG_EDDSA, cose.HEADER_KID: cf.key_id(KEY)}
PAYLOAD = b"This is the content."


def token(
    *, tag: int = 18, header: object = None, payload: bytes = PAYLOAD, flip: bool = False
) -> bytes:
    protected = cbor2.dumps(HEADER if header is None else header)
    signature = bytearray(KEY.sign(cose.sig_structure(protected, payload)))
    if flip:
        signature[0] ^= 1
    return cbor2.dumps(cbor2.CBORTag(tag, [protected, {}, payload, bytes(signature)]))


def check(data: bytes) -> None:
    message = cose.decode_sign1(data)
    cose.read_header(message)
    cose.verify_signature(message, KEY.public_key())


def test_the_same_failures_on_an_eddsa_token() -> None:
    check(token())
    with pytest.raises(cf.MalformedError):  # sign-fail-01: wrong CBOR tag
        check(token(tag=998))
    with pytest.raises(cf.BadSignatureError):  # sign-fail-02: changed signature
        check(token(flip=True))
    with pytest.raises(cf.BadSignatureError):  # sign-fail-03: alg -999
        check(token(header={1: -999, 4: cf.key_id(KEY)}))
    with pytest.raises(cf.BadSignatureError):  # sign-fail-04: alg "unknown"
        check(token(header={1: "unknown", 4: cf.key_id(KEY)}))
    with pytest.raises(cf.MalformedError):  # sign-fail-06: protected attribute added
        check(token(header=HEADER | {3: 0}))
    with pytest.raises(cf.MalformedError):  # sign-fail-07: protected attribute removed
        check(token(header={1: cose.ALG_EDDSA}))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xd2",
        b"\xd2\x83\x40\xa0\x40",
        b"\xd2\x84\x40\xa0\x40\x40",
        b"\xd2\x84\x41\x01\xa0\x40\x40",
    ],
    ids=["empty", "tag only", "three items", "empty protected", "protected not a map"],
)
def test_structural_errors(data: bytes) -> None:
    with pytest.raises(cf.MalformedError):
        check(data)


def test_non_minimal_encodings_are_refused() -> None:
    good = token()
    # Same object, payload length written on two bytes instead of one.
    message = cose.decode_sign1(good)
    spelled = (
        b"\xd2\x84"
        + cbor2.dumps(message.protected)
        + b"\xa0"
        + b"\x59\x00"
        + bytes([len(PAYLOAD)])
        + PAYLOAD
        + cbor2.dumps(message.signature)
    )
    with pytest.raises(cf.MalformedError, match="deterministic"):
        cose.decode_sign1(spelled)


def general_path(data: bytes) -> tuple[cose.Sign1, bytes]:
    message = cose.decode_sign1(data)
    return message, cose.read_header(message)


def outcome(function: Callable[[bytes], object], data: bytes) -> object:
    try:
        return function(data)
    except cf.CardFormatError as exc:
        return type(exc)


CARD = cf.sign_card(
    cf.Card(number=cf.generate_card_number(), holder_name="Ana", birth_date=None, status_index=7),
    issuer="FR SXB",
    signing_key=KEY,
    now=datetime(2026, 1, 1, tzinfo=UTC),
    expires_at=datetime(2030, 1, 1, tzinfo=UTC),
)
CARD_BYTES = b45decode(CARD[4:])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
    st.integers(-3, 3),
)
def test_card_fast_path_agrees_with_the_general_path(
    flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(CARD_BYTES)
    for position, value in flips:
        data[position % len(data)] = value
    mutated = bytes(data[: len(data) + cut] if cut < 0 else data + b"\x00" * cut)
    assert outcome(cose.decode_card_sign1, mutated) == outcome(general_path, mutated)


def test_loads_refuses_trailing_bytes_duplicates_and_indefinite_lengths() -> None:
    assert cose.loads(b"\x01") == 1
    for data in (b"\x01\x02", b"\xa2\x01\x01\x01\x02", b"\x9f\x01\xff", b"\x81" * 40 + b"\x01"):
        with pytest.raises(cf.MalformedError):
            cose.loads(data)
    assert cose.loads_first(b"\x01\x02") == 1  # only for callers that re-encode and compare


def test_a_signed_status_list_with_trailing_payload_bytes_is_refused() -> None:
    claims = {1: "FR SXB", 2: "u", 6: 1, 65533: {"bits": 2, "lst": cf.StatusList(8).encode_lst()}}
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: cf.key_id(KEY),
        16: "application/statuslist+cwt",
    }
    token = cose.sign1(header, cbor2.dumps(claims) + b"\x00", KEY)
    trusted = cf.TrustedKey(kid=cf.key_id(KEY), public_key=KEY.public_key(), issuer="FR SXB")
    with pytest.raises(cf.MalformedError, match="trailing"):
        cf.verify_status_list(
            token, resolve_key={trusted.kid: trusted}.get, now=datetime(2026, 1, 1, tzinfo=UTC)
        )
