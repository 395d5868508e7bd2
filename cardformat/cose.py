"""The subset of COSE (RFC 9052) this format uses: COSE_Sign1 with EdDSA over Ed25519.

Two layers. ``decode_sign1`` and ``verify_signature`` are plain COSE and accept any well-formed
COSE_Sign1 (the COSE working group's examples run through them). ``read_header`` applies this
format's profile: exactly the headers we define, in the protected bucket, nothing else.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, NamedTuple

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import _cbor
from .errors import BadSignatureError, MalformedError
from .keys import KID_LENGTH, SignatureVerifier, is_small_order_point

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_KID = 4
HEADER_TYP = 16  # RFC 9596
ALG_EDDSA = -8
SIGNATURE_LENGTH = 64


_DECODER_OPTIONS: dict[str, Any] = {
    "allow_indefinite": False,
    "allow_duplicate_keys": False,
    "max_depth": 16,
}
_DECODE_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError)


def loads(data: bytes) -> Any:
    """Decode exactly one CBOR item, refusing trailing bytes, duplicate map keys, indefinite
    lengths and deep nesting."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream, **_DECODER_OPTIONS).decode()
    except _DECODE_ERRORS as exc:
        raise MalformedError("not valid CBOR") from exc
    if stream.tell() != len(data):
        raise MalformedError("trailing bytes after the CBOR item")
    return item


def loads_deterministic(data: bytes) -> Any:
    """Decode exactly one CBOR item and insist ``data`` is its deterministic encoding.

    For the payloads of metadata, endorsements and status lists (docs/card-format.md, section
    2.1). cbor2 sorts map keys length first; for the maps these documents may hold (keys all
    text, or all integers below 2^16 of one encoded length per value range) that is the same
    order as RFC 8949's bytewise one, and any other map is refused by its type checks anyway.
    """
    item = loads(data)
    if _canonical(item) != data:
        raise MalformedError("the payload is not in deterministic encoding")
    return item


def loads_first(data: bytes) -> Any:
    """Decode the first CBOR item and ignore what follows.

    Only for callers that re-encode what they decoded and compare it with ``data`` (which
    refuses trailing bytes too): cbor2.loads is about twice as fast as a decoder that reports
    its position, and the card verification path runs it twice.
    """
    try:
        return cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=16)
    except _DECODE_ERRORS as exc:
        raise MalformedError("not valid CBOR") from exc


class Sign1(NamedTuple):
    protected: bytes  # the serialized protected header, exactly as signed
    header: Mapping[Any, Any]  # the protected header, decoded
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes


def decode_sign1(data: bytes) -> Sign1:
    """Parse a tagged COSE_Sign1 and insist the bytes are its one deterministic encoding.

    Re-encoding and comparing rejects trailing bytes, non-minimal lengths and any other second
    spelling of the same object in one step, so two verifiers can never disagree about a token.
    """
    item = loads_first(data)  # the re-encoding check below refuses trailing bytes
    if not isinstance(item, cbor2.CBORTag) or item.tag != COSE_SIGN1_TAG:
        raise MalformedError("not a COSE_Sign1 object (CBOR tag 18)")
    parts = item.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise MalformedError("COSE_Sign1 is an array of four items")
    protected, unprotected, payload, signature = parts
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise MalformedError("COSE_Sign1 items have the wrong types")
    header = loads(protected) if protected else {}
    if not isinstance(header, Mapping):
        raise MalformedError("the protected header is not a map")
    if _encode(protected, unprotected, payload, signature) != data:
        raise MalformedError("COSE_Sign1 is not in deterministic encoding")
    return Sign1(protected, header, unprotected, payload, signature)


_SIGN1_START = _cbor.head(_cbor.MAJOR_TAG, COSE_SIGN1_TAG) + _cbor.head(_cbor.MAJOR_ARRAY, 4)
_EMPTY_MAP = _cbor.head(_cbor.MAJOR_MAP, 0)


def _canonical(item: Any) -> bytes:
    try:
        return cbor2.dumps(item, canonical=True)
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise MalformedError("cannot re-encode the object") from exc


def _encode(
    protected: bytes, unprotected: Mapping[Any, Any], payload: bytes, signature: bytes
) -> bytes:
    return b"".join(
        (
            _SIGN1_START,
            _cbor.byte_string(protected),
            _canonical(dict(unprotected)) if unprotected else _EMPTY_MAP,
            _cbor.byte_string(payload),
            _cbor.byte_string(signature),
        )
    )


_SIG_STRUCTURE_START = _cbor.head(_cbor.MAJOR_ARRAY, 4) + _cbor.text_string("Signature1")
_NO_EXTERNAL_AAD = _cbor.byte_string(b"")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """Sig_structure for COSE_Sign1 with empty external AAD (RFC 9052 section 4.4)."""
    return b"".join(
        (
            _SIG_STRUCTURE_START,
            _cbor.byte_string(protected),
            _NO_EXTERNAL_AAD,
            _cbor.byte_string(payload),
        )
    )


def verify_signature(message: Sign1, public_key: SignatureVerifier) -> None:
    """Check the EdDSA signature; raise BadSignatureError, never return a verdict."""
    if message.header.get(HEADER_ALG) != ALG_EDDSA:
        raise BadSignatureError("the token is not signed with EdDSA")
    if len(message.signature) != SIGNATURE_LENGTH:
        raise BadSignatureError("an Ed25519 signature is 64 bytes")
    if is_small_order_point(message.signature[:32]):
        raise BadSignatureError("the signature's R is a point of small order")
    try:
        public_key.verify(message.signature, sig_structure(message.protected, message.payload))
    except InvalidSignature:
        raise BadSignatureError("the signature does not verify") from None


def sign1(header: Mapping[int, Any], payload: bytes, key: Ed25519PrivateKey) -> bytes:
    """Produce a tagged COSE_Sign1 with all headers protected and an empty unprotected map."""
    protected = _canonical(dict(header))
    signature = key.sign(sig_structure(protected, payload))
    return _encode(protected, {}, payload, signature)


def read_header(message: Sign1, *, typ: str | None = None) -> bytes:
    """Apply this format's header profile and return the key id.

    The protected header holds alg, kid and (for documents that declare one) typ, and nothing
    else: an unknown or critical header is refused rather than ignored.
    """
    expected = {HEADER_ALG, HEADER_KID} | ({HEADER_TYP} if typ is not None else set())
    if set(message.header) != expected:
        raise MalformedError("unexpected protected headers")
    if message.unprotected:
        raise MalformedError("the unprotected header must be empty")
    if message.header[HEADER_ALG] != ALG_EDDSA:
        raise BadSignatureError("the token is not signed with EdDSA")
    kid = message.header[HEADER_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_LENGTH:
        raise MalformedError("the key id is 8 bytes")
    if typ is not None and message.header[HEADER_TYP] != typ:
        raise MalformedError("unexpected document type")
    if message.protected != profile_header(kid, typ):
        raise MalformedError("the protected header is not in deterministic encoding")
    return kid


def profile_header(kid: bytes, typ: str | None = None) -> bytes:
    """The protected header of this format, encoded with keys in deterministic order."""
    if typ is None:
        return _CARD_HEADER_START + kid
    return _TYPED_HEADER_START + kid + _cbor.integer(HEADER_TYP) + _cbor.text_string(typ)


_ALG_AND_KID = b"".join(
    (
        _cbor.integer(HEADER_ALG),
        _cbor.integer(ALG_EDDSA),
        _cbor.integer(HEADER_KID),
        _cbor.head(_cbor.MAJOR_BYTES, KID_LENGTH),
    )
)
_CARD_HEADER_START = _cbor.head(_cbor.MAJOR_MAP, 2) + _ALG_AND_KID
_TYPED_HEADER_START = _cbor.head(_cbor.MAJOR_MAP, 3) + _ALG_AND_KID
# A card token in its only valid encoding starts with these bytes: tag 18, array of 4, a 13-byte
# protected header (alg, then the 8-byte kid), and after the kid an empty unprotected map.
_CARD_START = _SIGN1_START + _cbor.head(_cbor.MAJOR_BYTES, len(_CARD_HEADER_START) + KID_LENGTH)
_CARD_HEADER_AT = len(_CARD_START)
_CARD_KID_AT = _CARD_HEADER_AT + len(_CARD_HEADER_START)
_CARD_KID_END = _CARD_KID_AT + KID_LENGTH
_SIGNATURE_HEAD = _cbor.head(_cbor.MAJOR_BYTES, SIGNATURE_LENGTH)
_SIGNATURE_HEAD_LENGTH = len(_SIGNATURE_HEAD)
_SIGNATURE_ITEM_LENGTH = _SIGNATURE_HEAD_LENGTH + SIGNATURE_LENGTH


def decode_card_sign1(data: bytes) -> tuple[Sign1, bytes]:
    """``decode_sign1`` then ``read_header`` for a card token, returning the message and kid.

    Valid cards have one exact byte layout, so they are sliced directly; anything else takes
    the general path, which then raises the precise error. Both paths accept the same inputs
    (tests/unit/cardformat/test_cose.py checks it): the shortcut exists because the verify
    rate must stay close to the bare signature check.
    """
    if (
        data.startswith(_CARD_START)
        and data.startswith(_CARD_HEADER_START, _CARD_HEADER_AT)
        and data[_CARD_KID_END : _CARD_KID_END + 1] == _EMPTY_MAP
    ):
        payload_at, payload_length = _bstr_at(data, _CARD_KID_END + 1)
        payload_end = payload_at + payload_length
        if (
            payload_length >= 24
            and data.startswith(_SIGNATURE_HEAD, payload_end)
            and len(data) == payload_end + _SIGNATURE_ITEM_LENGTH
        ):
            kid = data[_CARD_KID_AT:_CARD_KID_END]
            message = Sign1(
                data[_CARD_HEADER_AT:_CARD_KID_END],
                {HEADER_ALG: ALG_EDDSA, HEADER_KID: kid},
                {},
                data[payload_at:payload_end],
                data[payload_end + _SIGNATURE_HEAD_LENGTH :],
            )
            return message, kid
    message = decode_sign1(data)
    return message, read_header(message)


def _bstr_at(data: bytes, at: int) -> tuple[int, int]:
    """Start and length of a byte string whose 1- or 2-byte length follows its head at ``at``;
    (0, 0) when the head there is another one (the caller then takes the general path)."""
    first = data[at : at + 1]
    if first == b"\x58":
        return at + 2, data[at + 1] if len(data) > at + 1 else 0
    if first == b"\x59":
        length = int.from_bytes(data[at + 1 : at + 3], "big")
        return (at + 3, length) if length >= 0x100 else (0, 0)
    return 0, 0
