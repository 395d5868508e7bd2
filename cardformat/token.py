"""The card token, format v1: ``MC1:`` + base45(COSE_Sign1(CWT claims)).

The byte layout is specified in docs/card-format.md; this module is its reference
implementation. Verification runs the steps of that document in order and raises the error each
step names: first the cheap structural checks, then the signature, and only then the claims,
so nothing unauthenticated is interpreted beyond what finding the key requires.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import _cbor, cose
from .base45 import b45decode, b45encode
from .errors import (
    BadSignatureError,
    ExpiredError,
    MalformedError,
    NotYetValidError,
    UnknownKeyError,
    UnsupportedVersionError,
)
from .keys import KeyResolver, check_key_validity, key_id
from .names import MAX_NAME_BYTES as MAX_NAME_BYTES
from .names import check_holder_name, validate_holder_name
from .numbers import card_number_value, format_card_number

PREFIX = "MC1:"
MAX_TEXT_LENGTH = 512  # checked before any parsing; a v1 card's text is at most 351 characters
MAX_STATUS_INDEX = 2**32 - 1
# Every NumericDate of the format (iat, exp, key and list times) is at most 2^32 - 1 (year
# 2106): a uint of at most 5 bytes, which the size claims of docs/card-format.md rely on.
MAX_NUMERIC_DATE = 2**32 - 1
# Birth dates: 0001-01-01 to 9999-12-31 in days since 1970-01-01, the dates a four-digit-year
# full-date (RFC 3339) can show. They are exactly Python's dates, so a date object is always in
# range and a tag 100 outside it does not decode.
MIN_BIRTH_DAY = -719_162
MAX_BIRTH_DAY = 2_932_896
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run a little fast or slow

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_CARD = -65537  # the first private-use CWT claim key (RFC 8392 section 4)
TAG_EPOCH_DAYS = 100  # RFC 8943: days since 1970-01-01

_CLAIM_KEYS = {CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CARD}
_ISSUER_CODE = re.compile(r"[A-Z]{2} [A-Z2-9]{3}")
_VERSION_PREFIX = re.compile(r"MC[0-9]+:")
_EPOCH = date(1970, 1, 1)


class Card(NamedTuple):
    """What a card says about its holder: nothing more goes into a token.

    Named tuples rather than frozen dataclasses: as immutable, and built in a third of the
    time, which shows in the verify rate.
    """

    number: str
    holder_name: str
    birth_date: date | None
    status_index: int


class VerifiedCard(NamedTuple):
    issuer: str
    card: Card
    issued_at: datetime
    expires_at: datetime
    kid: bytes
    issuer_name: str = ""


def validate_issuer_code(code: str) -> str:
    if not isinstance(code, str) or not _ISSUER_CODE.fullmatch(code):
        raise MalformedError('an issuer code is a UN/LOCODE such as "FR SXB"')
    return code


def _numeric_date(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return int(moment.timestamp())


def encode_claims(
    *,
    issuer: str,
    issued_at: int,
    expires_at: int,
    number: int,
    holder_name: str,
    birth_date: date | None,
    status_index: int,
) -> bytes:
    """The one deterministic encoding of a v1 claims set (also used to check received ones).

    Map keys in RFC 8949 core deterministic order: iss (1), exp (4), iat (6), card (-65537).
    """
    return _encode_claims(
        issuer, issued_at, expires_at, number, holder_name, birth_date, status_index
    )


def _encode_claims(
    issuer: str,
    issued_at: int,
    expires_at: int,
    number: int,
    holder_name: str,
    birth_date: date | None,
    status_index: int,
) -> bytes:
    integer, text = _cbor.integer, _cbor.text_string
    if birth_date is None:
        birth = _cbor.NULL
    else:
        birth = _BIRTH_DATE_TAG + integer((birth_date - _EPOCH).days)
    return b"".join(
        (
            _CLAIMS_START,
            text(issuer),
            _EXP_KEY,
            integer(expires_at),
            _IAT_KEY,
            integer(issued_at),
            _CARD_KEY_AND_ARRAY,
            integer(number),
            text(holder_name),
            birth,
            integer(status_index),
        )
    )


_CLAIMS_START = _cbor.head(_cbor.MAJOR_MAP, 4) + _cbor.integer(CLAIM_ISS)
_EXP_KEY = _cbor.integer(CLAIM_EXP)
_IAT_KEY = _cbor.integer(CLAIM_IAT)
_CARD_KEY_AND_ARRAY = _cbor.integer(CLAIM_CARD) + _cbor.head(_cbor.MAJOR_ARRAY, 4)
_BIRTH_DATE_TAG = _cbor.head(_cbor.MAJOR_TAG, TAG_EPOCH_DAYS)


def sign_card(
    card: Card,
    *,
    issuer: str,
    signing_key: Ed25519PrivateKey,
    now: datetime,
    expires_at: datetime,
) -> str:
    """Sign a card; returns the text to put in the QR code."""
    validate_issuer_code(issuer)
    name = validate_holder_name(card.holder_name)
    if name != card.holder_name:
        raise MalformedError("the holder name must be given in Unicode NFC")
    if not isinstance(card.status_index, int) or not 0 <= card.status_index <= MAX_STATUS_INDEX:
        raise MalformedError("the status index is out of range")
    issued, expires = _numeric_date(now), _numeric_date(expires_at)
    if not 0 <= issued < expires <= MAX_NUMERIC_DATE:
        raise MalformedError("a card must expire after it is issued, by 2106")
    payload = encode_claims(
        issuer=issuer,
        issued_at=issued,
        expires_at=expires,
        number=card_number_value(card.number),
        holder_name=name,
        birth_date=card.birth_date,
        status_index=card.status_index,
    )
    header = {cose.HEADER_ALG: cose.ALG_EDDSA, cose.HEADER_KID: key_id(signing_key)}
    return PREFIX + b45encode(cose.sign1(header, payload, signing_key))


def decode_text(text: str) -> bytes:
    """Steps 1 to 3 of verification: length guard, version prefix, base45."""
    if not isinstance(text, str):
        raise MalformedError("a card token is text")
    if len(text) > MAX_TEXT_LENGTH:
        raise MalformedError("the text is too long to be a card")
    if not text.startswith(PREFIX):
        if _VERSION_PREFIX.match(text):
            raise UnsupportedVersionError("this card uses a newer format version")
        raise MalformedError('a card token starts with "MC1:"')
    return b45decode(text, len(PREFIX))


# Looked up once: the verify path runs this comparison for every card.
_BIRTH_DATE_TYPES = (date, type(None))


def verify_card(text: str, *, resolve_key: KeyResolver, now: datetime) -> VerifiedCard:
    """Verify a card's text; return what it says, or raise exactly one CardFormatError."""
    message, kid = cose.decode_card_sign1(decode_text(text))
    key = resolve_key(kid)
    if key is None:
        raise UnknownKeyError("no trusted issuer has this card's signing key")
    cose.verify_signature(message, key.public_key)
    issuer, issued_at, expires_at, card = _parse_claims(message.payload)
    if issuer != key.issuer:
        raise BadSignatureError("the card names another issuer than the key that signed it")
    check_key_validity(key, issued_at, "card")
    if now + CLOCK_SKEW < issued_at:
        raise NotYetValidError("the card is not valid yet")
    if now >= expires_at:
        raise ExpiredError("the card has expired")
    return VerifiedCard(issuer, card, issued_at, expires_at, kid, key.issuer_name)


def _parse_claims(payload: bytes) -> tuple[str, datetime, datetime, Card]:
    claims = cose.loads_first(payload)
    # Re-encoding what was read and comparing bytes settles structure and types at once: any
    # extra or missing claim, wrong type, other date tag or non-minimal integer encodes
    # differently (or cannot be encoded) and is refused.
    try:
        issuer, iat, exp = claims[CLAIM_ISS], claims[CLAIM_IAT], claims[CLAIM_EXP]
        number, name, birth, index = claims[CLAIM_CARD]
        expected = _encode_claims(issuer, iat, exp, number, name, birth, index)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise MalformedError("the card's claims are not the v1 claims set") from exc
    if expected != payload or type(birth) not in _BIRTH_DATE_TYPES:
        raise MalformedError("the card's claims are not the v1 claims set")
    if not _ISSUER_CODE.fullmatch(issuer):
        raise MalformedError("the issuer code is not a UN/LOCODE")
    # A name not signed in NFC is refused rather than normalised, so the name shown is exactly
    # the name signed (check_holder_name refuses it).
    check_holder_name(name)
    # A birth date that decoded is a Python date, always within MIN_BIRTH_DAY..MAX_BIRTH_DAY;
    # one outside that range does not decode and was refused above.
    if not 0 <= iat < exp <= MAX_NUMERIC_DATE or not 0 <= index <= MAX_STATUS_INDEX:
        raise MalformedError("the card's validity or status index is out of range")
    try:
        issued_at, expires_at = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise MalformedError("the card's dates are out of range") from exc
    card = Card(format_card_number(number), name, birth, index)
    return issuer, issued_at, expires_at, card
