"""Generate the card-format v1 test vectors: tests/vectors/cards.json here, and metadata.json,
status-lists.json and status-decisions.json through generate_documents.py.

Run from the repository root: ``python tests/vectors/generate_cards.py`` (``make vectors``). The
output is deterministic (fixed seeds, fixed times, Ed25519 signatures are deterministic), so
running it again must leave the committed files unchanged; ``--check`` says whether they are,
and tests/unit/cardformat/test_vectors.py runs it.

Each vector gives the text a scanner would read, the time of verification, and what a v1
verifier must answer: "valid" with the claims, or the result code of the error it must raise.
Invalid vectors are built below the public API, with the same primitives, so each one breaks
exactly one rule of docs/card-format.md.
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardformat import (
    Card,
    KeyState,
    cose,
    key_id,
    public_key_bytes,
    sign_card,
)
from cardformat.base45 import b45decode, b45encode
from cardformat.numbers import card_number_value
from cardformat.token import PREFIX, encode_claims

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).with_name("cards.json")
ISSUER = "FR SXB"
ISSUED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
EXPIRES = datetime(2031, 1, 15, 9, 30, tzinfo=UTC)
CHECKED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RETIRED_AT = datetime(2026, 3, 1, tzinfo=UTC)
KEYS_FROM = datetime(2025, 1, 1, tzinfo=UTC)  # nbf of the keys whose validity is not tested
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATE_FROM = datetime(2026, 2, 1, tzinfo=UTC)  # nbf of a key published after ISSUED
ENDED_AT = datetime(2026, 1, 1, tzinfo=UTC)  # exp of a key that ended before ISSUED
MAX_TIME = 2**32 - 1


def seeded_key(label: str) -> Ed25519PrivateKey:
    seed = (label.encode() * 32)[:32]
    return Ed25519PrivateKey.from_private_bytes(seed)


ACTIVE = seeded_key("active-signing-key")
RETIRED = seeded_key("retired-signing-key")
REVOKED = seeded_key("revoked-signing-key")
OTHER_CITY = seeded_key("other-city-key")
UNKNOWN = seeded_key("key-nobody-trusts")
BOUNDARY = seeded_key("boundary-values-key")  # valid from 1970: for times at their limits
LATE = seeded_key("key-valid-from-february")
ENDED = seeded_key("key-that-ended-in-2025")

# key, issuer, issuer name, state, retired at, nbf, exp
KEYS: list[tuple[Ed25519PrivateKey, str, str, KeyState, datetime | None, datetime, datetime | None]]
KEYS = [
    (ACTIVE, ISSUER, "Strasbourg", KeyState.ACTIVE, None, KEYS_FROM, None),
    (RETIRED, ISSUER, "Strasbourg", KeyState.RETIRED, RETIRED_AT, KEYS_FROM, None),
    (REVOKED, ISSUER, "Strasbourg", KeyState.REVOKED, None, KEYS_FROM, None),
    (OTHER_CITY, "BR SAO", "São Paulo", KeyState.ACTIVE, None, KEYS_FROM, None),
    (BOUNDARY, ISSUER, "Strasbourg", KeyState.ACTIVE, None, EPOCH, None),
    (LATE, ISSUER, "Strasbourg", KeyState.ACTIVE, None, LATE_FROM, None),
    (ENDED, ISSUER, "Strasbourg", KeyState.ACTIVE, None, KEYS_FROM, ENDED_AT),
]

BASE = Card(
    number="4028-T56", holder_name="Amina Diallo", birth_date=date(1991, 4, 23), status_index=91_234
)


def signed(card: Card = BASE, *, key: Ed25519PrivateKey = ACTIVE, **kw: Any) -> str:
    args: dict[str, Any] = {"issuer": ISSUER, "now": ISSUED, "expires_at": EXPIRES} | kw
    return sign_card(card, signing_key=key, **args)


def raw_token(
    *,
    header: dict[int, Any] | None = None,
    unprotected: dict[int, Any] | None = None,
    payload: bytes | None = None,
    key: Ed25519PrivateKey = ACTIVE,
    tag: int = cose.COSE_SIGN1_TAG,
    sign: Callable[[Ed25519PrivateKey, bytes], bytes] | None = None,
) -> bytes:
    """A COSE_Sign1 built by hand, correctly signed over whatever it holds."""
    protected = cbor2.dumps(
        header
        if header is not None
        else {cose.HEADER_ALG: cose.ALG_EDDSA, cose.HEADER_KID: key_id(key)}
    )
    body = payload if payload is not None else claims_bytes()
    message = cose.sig_structure(protected, body)
    signature = key.sign(message) if sign is None else sign(key, message)
    return cbor2.dumps(cbor2.CBORTag(tag, [protected, unprotected or {}, body, signature]))


def claims_bytes(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "issuer": ISSUER,
        "issued_at": int(ISSUED.timestamp()),
        "expires_at": int(EXPIRES.timestamp()),
        "number": card_number_value(BASE.number),
        "holder_name": BASE.holder_name,
        "birth_date": BASE.birth_date,
        "status_index": BASE.status_index,
    } | overrides
    return encode_claims(**fields)


# The order of Ed25519's prime-order group (RFC 8032, section 5.1).
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY_POINT = b"\x01" + bytes(31)  # x = 0, y = 1


def sign_with_identity_r(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """A signature whose R is the identity point, which only the key's holder can make.

    With S = h * a (a the secret scalar, h the challenge), S*B - h*A is the identity, so
    OpenSSL's check passes; libsodium refuses any R of small order, and so does the format.
    """
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    digest = bytearray(hashlib.sha512(seed).digest()[:32])
    digest[0] &= 248  # RFC 8032 5.1.5: clamp the secret scalar
    digest[31] &= 127
    digest[31] |= 64
    secret = int.from_bytes(digest, "little")
    challenge = hashlib.sha512(IDENTITY_POINT + public_key_bytes(key) + message).digest()
    h = int.from_bytes(challenge, "little") % GROUP_ORDER
    return IDENTITY_POINT + (h * secret % GROUP_ORDER).to_bytes(32, "little")


def text(token: bytes) -> str:
    return PREFIX + b45encode(token)


def flip_signature_bit(card_text: str) -> str:
    token = bytearray(b45decode(card_text[len(PREFIX) :]))
    token[-1] ^= 0x01
    return text(bytes(token))


def raw_claims(**changes: Any) -> bytes:
    """The valid claims in deterministic encoding with some values replaced by any CBOR, for
    values the encoder of the format refuses (out of range, other types). ``card`` changes
    replace items of the card array by position."""
    claims = claims_dict()
    for position, value in changes.pop("card", {}).items():
        claims[-65537][position] = value
    for key, value in changes.items():
        claims[{"iss": 1, "exp": 4, "iat": 6}[key]] = value
    return cbor2.dumps(claims, canonical=True)


def claims_dict() -> dict[int, Any]:
    """The valid claims as a map, for vectors that change their structure."""
    days = (BASE.birth_date - date(1970, 1, 1)).days if BASE.birth_date else None
    return {
        1: ISSUER,
        4: int(EXPIRES.timestamp()),
        6: int(ISSUED.timestamp()),
        -65537: [
            card_number_value(BASE.number),
            BASE.holder_name,
            cbor2.CBORTag(100, days),
            BASE.status_index,
        ],
    }


def vectors() -> list[dict[str, Any]]:
    v: list[dict[str, Any]] = []

    def valid(
        name: str,
        card_text: str,
        card: Card,
        issued: datetime,
        expires: datetime,
        now: datetime = CHECKED,
    ) -> None:
        v.append(
            {
                "name": name,
                "text": card_text,
                "now": iso(now),
                "expected": "valid",
                "claims": {
                    "issuer": ISSUER,
                    "number": card.number,
                    "holder_name": card.holder_name,
                    "birth_date": card.birth_date.isoformat() if card.birth_date else None,
                    "status_index": card.status_index,
                    "issued_at": iso(issued),
                    "expires_at": iso(expires),
                },
            }
        )

    def invalid(
        name: str, card_text: str, expected: str, error: str, now: datetime = CHECKED
    ) -> None:
        v.append(
            {"name": name, "text": card_text, "now": iso(now), "expected": expected, "error": error}
        )

    valid("valid card", signed(), BASE, ISSUED, EXPIRES)
    no_birth = BASE._replace(birth_date=None)
    valid("valid card without birth date", signed(no_birth), no_birth, ISSUED, EXPIRES)
    for label, name in [
        ("Arabic", "فاطمة الزهراء"),
        ("Cyrillic", "Олена Шевченко"),
        ("Greek", "Ελένη Παπαδοπούλου"),
        ("CJK", "王秀英"),
        ("combining marks composed", "Nguyễn Thị Ánh"),
    ]:
        card = BASE._replace(holder_name=name)
        valid(f"valid card, {label} name", signed(card), card, ISSUED, EXPIRES)
    long_name = BASE._replace(holder_name="Maximiliana " + "Ö" * 44)  # 100 UTF-8 bytes
    valid("valid card, name of 100 UTF-8 bytes", signed(long_name), long_name, ISSUED, EXPIRES)
    old = BASE._replace(birth_date=date(1941, 12, 31))
    valid("valid card, birth date before 1970", signed(old), old, ISSUED, EXPIRES)
    before_retirement = signed(key=RETIRED, now=RETIRED_AT - timedelta(days=1))
    valid(
        "valid card signed by a retired key before its retirement",
        before_retirement,
        BASE,
        RETIRED_AT - timedelta(days=1),
        EXPIRES,
    )

    good = signed()
    invalid("empty text", "", "malformed", "MalformedError")
    invalid("truncated text", good[:-7], "malformed", "MalformedError")
    invalid("truncated to the prefix", PREFIX, "malformed", "MalformedError")
    invalid("bad base45 character", good[:20] + "a" + good[21:], "malformed", "MalformedError")
    invalid("base45 chunk above 65535", PREFIX + "GGW", "malformed", "MalformedError")
    invalid("wrong prefix", "HC1:" + good[len(PREFIX) :], "malformed", "MalformedError")
    invalid("lower-case prefix", "mc1:" + good[len(PREFIX) :], "malformed", "MalformedError")
    invalid(
        "newer format version", "MC2:" + good[len(PREFIX) :], "malformed", "UnsupportedVersionError"
    )
    invalid("oversized input", PREFIX + "0" * 600, "malformed", "MalformedError")
    invalid("wrong CBOR tag", text(raw_token(tag=998)), "malformed", "MalformedError")
    untagged = cbor2.dumps(cbor2.loads(raw_token()).value)
    invalid("untagged COSE_Sign1", text(untagged), "malformed", "MalformedError")
    invalid("trailing bytes", text(raw_token() + b"\x00"), "malformed", "MalformedError")
    invalid(
        "wrong algorithm (ES256)",
        text(raw_token(header={cose.HEADER_ALG: -7, cose.HEADER_KID: key_id(ACTIVE)})),
        "bad_signature",
        "BadSignatureError",
    )
    invalid(
        "extra critical header",
        text(
            raw_token(
                header={
                    cose.HEADER_ALG: cose.ALG_EDDSA,
                    cose.HEADER_CRIT: [99],
                    cose.HEADER_KID: key_id(ACTIVE),
                    99: 1,
                }
            )
        ),
        "malformed",
        "MalformedError",
    )
    invalid(
        "key id in the unprotected header",
        text(
            raw_token(
                header={cose.HEADER_ALG: cose.ALG_EDDSA},
                unprotected={cose.HEADER_KID: key_id(ACTIVE)},
            )
        ),
        "malformed",
        "MalformedError",
    )
    invalid("unknown key id", signed(key=UNKNOWN), "unknown_issuer", "UnknownKeyError")
    invalid(
        "one flipped signature bit", flip_signature_bit(good), "bad_signature", "BadSignatureError"
    )
    invalid(
        "signature with the identity point as R",
        text(raw_token(sign=sign_with_identity_r)),
        "bad_signature",
        "BadSignatureError",
    )
    invalid(
        "key of another city signing for this one",
        signed(key=OTHER_CITY),
        "bad_signature",
        "BadSignatureError",
    )
    invalid("revoked signing key", signed(key=REVOKED), "key_revoked", "KeyRevokedError")
    invalid(
        "retired key signing after its retirement",
        signed(key=RETIRED, now=RETIRED_AT + timedelta(days=1)),
        "key_revoked",
        "KeyRevokedError",
    )
    invalid("expired", good, "expired", "ExpiredError", now=EXPIRES)
    invalid(
        "not yet valid", good, "not_yet_valid", "NotYetValidError", now=ISSUED - timedelta(hours=1)
    )
    non_nfc = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    invalid(
        "non-NFC name",
        text(raw_token(payload=claims_bytes(holder_name=non_nfc))),
        "malformed",
        "InvalidNameError",
    )
    invalid(
        "bidi override in the name",
        text(raw_token(payload=claims_bytes(holder_name="Amina\u202eDiallo"))),
        "malformed",
        "InvalidNameError",
    )
    missing = claims_dict()
    del missing[6]
    invalid(
        "missing claim (iat)",
        text(raw_token(payload=cbor2.dumps(missing))),
        "malformed",
        "MalformedError",
    )
    extra = claims_dict() | {8: "extra"}
    invalid(
        "extra claim", text(raw_token(payload=cbor2.dumps(extra))), "malformed", "MalformedError"
    )
    text_date = claims_dict()
    text_date[-65537][2] = cbor2.CBORTag(1004, BASE.birth_date.isoformat())
    invalid(
        "birth date as a text date (tag 1004)",
        text(raw_token(payload=cbor2.dumps(text_date))),
        "malformed",
        "MalformedError",
    )
    reordered = claims_dict()
    reordered = {6: reordered[6], 1: reordered[1], 4: reordered[4], -65537: reordered[-65537]}
    invalid(
        "claims not in deterministic order",
        text(raw_token(payload=cbor2.dumps(reordered))),
        "malformed",
        "MalformedError",
    )
    invalid(
        "issuer code not a UN/LOCODE",
        text(raw_token(payload=claims_bytes(issuer="Strasbourg"))),
        "malformed",
        "MalformedError",
    )
    invalid(
        "expiry before issue",
        text(raw_token(payload=claims_bytes(expires_at=int(ISSUED.timestamp()) - 1))),
        "malformed",
        "MalformedError",
    )
    boundaries(valid, invalid, good)
    return v


def boundaries(valid: Callable[..., None], invalid: Callable[..., None], good: str) -> None:
    """Values at each limit of the format, and one step beyond it; rules alone; the order of the
    checks inside a step."""
    at = datetime.fromtimestamp
    top = Card(
        number="ZZZZ-ZZ6",
        holder_name="A" * 100,
        birth_date=date(9999, 12, 31),
        status_index=2**32 - 1,
    )
    valid(
        "valid card, every value at its upper limit",
        signed(top, key=BOUNDARY, expires_at=at(MAX_TIME, UTC)),
        top,
        ISSUED,
        at(MAX_TIME, UTC),
    )
    bottom = Card(number="0000-000", holder_name="A", birth_date=date(1, 1, 1), status_index=0)
    valid(
        "valid card, every value at its lower limit",
        signed(bottom, key=BOUNDARY, now=EPOCH, expires_at=at(1, UTC)),
        bottom,
        EPOCH,
        at(1, UTC),
        now=EPOCH,
    )
    for label, name in [
        ("no-break and ideographic spaces inside the name", "Amina\u00a0Diallo\u3000Ba"),
        ("a letter new in Unicode 14.0", "Amina \u0870"),
        ("zero width non-joiner inside a Persian name", "\u0645\u0647\u200c\u0646\u0627\u0632"),
        ("zero width joiner inside a Malayalam name (chillu)", "\u0d05\u0d28\u0d4d\u200d"),
        ("Malayalam name", "\u0d05\u0d30\u0d41\u0d23 \u0d28\u0d3e\u0d2f\u0d7c"),
        ("four combining marks in a row (the most)", "Amina Diax\u0300\u0301\u0302\u0303llo"),
        ("100 UTF-8 bytes of the widest letter", "m" * 100),
        ("apostrophe, hyphen, full stop and comma", "N'Diaye-Diallo, A. J."),
    ]:
        card = BASE._replace(holder_name=name)
        valid(f"valid card, {label}", signed(card), card, ISSUED, EXPIRES)
    valid(
        "valid card, one second before expiry",
        good,
        BASE,
        ISSUED,
        EXPIRES,
        now=EXPIRES - timedelta(seconds=1),
    )
    valid(
        "valid card, issued five minutes ahead of the verifier's clock",
        good,
        BASE,
        ISSUED,
        EXPIRES,
        now=ISSUED - timedelta(minutes=5),
    )
    late = ENDED_AT - timedelta(seconds=1)
    valid(
        "valid card, signed in the last second of its key's validity",
        signed(key=ENDED, now=late),
        BASE,
        late,
        EXPIRES,
    )
    valid(
        "valid card, signed at its key's nbf",
        signed(key=LATE, now=LATE_FROM),
        BASE,
        LATE_FROM,
        EXPIRES,
    )

    def bad(
        name: str, token: bytes, expected: str = "malformed", error: str = "MalformedError"
    ) -> None:
        invalid(name, text(token), expected, error)

    invalid("text with a trailing CR LF", good + "\r\n", "malformed", "MalformedError")
    invalid("text with a trailing LF", good + "\n", "malformed", "MalformedError")
    invalid("text with a leading space", " " + good, "malformed", "MalformedError")
    name_error = {"error": "InvalidNameError"}  # a MalformedError saying which rule failed
    bad("name of 101 UTF-8 bytes", raw_token(payload=raw_claims(card={1: "A" * 101})), **name_error)
    bad("empty name", raw_token(payload=raw_claims(card={1: ""})), **name_error)
    for label, name in [
        ("ending with a no-break space", "Amina Diallo\u00a0"),
        ("starting with an ideographic space", "\u3000Amina Diallo"),
        ("ending with a thin space", "Amina Diallo\u2009"),
        ("ending with a space", "Amina Diallo "),
    ]:
        bad(f"name {label}", raw_token(payload=raw_claims(card={1: name})), **name_error)
    bad(
        "name with a letter unassigned in Unicode 14.0 (Kawi, Unicode 15.0)",
        raw_token(payload=raw_claims(card={1: "Amina \U00011f00"})),
        **name_error,
    )
    # Section 3.2's forbidden code points: one vector per kind.
    for label, name in [
        ("a control character (Cc, U+0085)", "Amina\x85Diallo"),
        ("a soft hyphen (Cf, U+00AD)", "Amina Dia\u00adllo"),
        ("a zero width space (Cf, U+200B)", "Amina\u200bDiallo"),
        ("ending with a zero width space (Cf, U+200B)", "Amina Diallo\u200b"),
        ("ending with U+180E (Cf)", "Amina Diallo\u180e"),
        ("a word joiner (Cf, U+2060)", "Amina\u2060Diallo"),
        ("an invisible times (Cf, U+2062)", "Amina\u2062Diallo"),
        ("a byte order mark (Cf, U+FEFF)", "\ufeffAmina Diallo"),
        ("a tag character (Cf, U+E0041)", "Amina Diallo\U000e0041"),
        ("a line separator (Zl, U+2028)", "Amina\u2028Diallo"),
        ("a private use character (Co, U+E000)", "Amina \ue000"),
        ("a noncharacter (Cn, U+FFFF)", "Amina \uffff"),
        ("a less-than sign (markup)", "Amina <Diallo>"),
        ("a semicolon (markup)", "Amina;Diallo"),
        ("a quotation mark (markup)", 'Amina "Diallo"'),
        ("the basmala ligature U+FDFD", "Amina \ufdfd"),
        ("a word ligature (U+FDF2)", "Abd \ufdf2"),
        ("five combining marks in a row", "Amina Diax\u0300\u0301\u0302\u0303\u0304llo"),
    ]:
        bad(f"name with {label}", raw_token(payload=raw_claims(card={1: name})), **name_error)
    bad("expiry at 2^32", raw_token(payload=raw_claims(exp=MAX_TIME + 1)))
    bad("expiry equal to issue time", raw_token(payload=raw_claims(exp=int(ISSUED.timestamp()))))
    bad("card number 2^30", raw_token(payload=raw_claims(card={0: 2**30})))
    bad("status index 2^32", raw_token(payload=raw_claims(card={3: 2**32})))
    bad(
        "birth date the day before 0001-01-01",
        raw_token(payload=raw_claims(card={2: cbor2.CBORTag(100, -719_163)})),
    )
    bad(
        "birth date the day after 9999-12-31",
        raw_token(payload=raw_claims(card={2: cbor2.CBORTag(100, 2_932_897)})),
    )
    bad(
        "expiry as a bignum (tag 2)",
        raw_token(payload=raw_claims(exp=cbor2.CBORTag(2, int(EXPIRES.timestamp()).to_bytes(4)))),
    )
    bad("payload tagged as a CWT (tag 61)", raw_token(payload=b"\xd8\x3d" + claims_bytes()))
    extra_in_order = claims_dict() | {5: 0}
    bad(
        "extra claim alone, in deterministic order",
        raw_token(payload=cbor2.dumps(extra_in_order, canonical=True)),
    )
    invalid(
        "issued 301 seconds ahead of the verifier's clock",
        good,
        "not_yet_valid",
        "NotYetValidError",
        now=ISSUED - timedelta(seconds=301),
    )
    bad(
        "signature of 63 bytes",
        raw_token(sign=lambda k, m: k.sign(m)[:63]),
        "bad_signature",
        "BadSignatureError",
    )
    bad(
        "signature of 65 bytes",
        raw_token(sign=lambda k, m: k.sign(m) + b"\x00"),
        "bad_signature",
        "BadSignatureError",
    )
    bad(
        "unknown key id and a signature of 63 bytes",
        raw_token(key=UNKNOWN, sign=lambda k, m: k.sign(m)[:63]),
        "unknown_issuer",
        "UnknownKeyError",
    )
    bad(
        "unknown header label and a wrong algorithm (row order in step 5)",
        raw_token(header={cose.HEADER_ALG: -7, cose.HEADER_KID: key_id(ACTIVE), 99: 1}),
    )
    bad(
        "wrong algorithm and a 7-byte key id (row order in step 5)",
        raw_token(header={cose.HEADER_ALG: -7, cose.HEADER_KID: key_id(ACTIVE)[:7]}),
        "bad_signature",
        "BadSignatureError",
    )
    bad(
        "protected header keys out of order",
        raw_token(header={cose.HEADER_KID: key_id(ACTIVE), cose.HEADER_ALG: cose.ALG_EDDSA}),
    )
    invalid("card signed before its key's nbf", signed(key=LATE), "key_revoked", "KeyRevokedError")
    invalid(
        "card signed at its key's exp",
        signed(key=ENDED, now=ENDED_AT),
        "key_revoked",
        "KeyRevokedError",
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def keys() -> list[dict[str, Any]]:
    return [
        {
            "kid": key_id(k).hex(),
            "public_key": public_key_bytes(k).hex(),
            "issuer": issuer,
            "issuer_name": name,
            "state": state.value,
            "retired_at": iso(retired) if retired else None,
            "not_before": iso(nbf),
            "not_after": iso(exp) if exp else None,
        }
        for k, issuer, name, state, retired, nbf, exp in KEYS
    ]


KEY_SCHEMA = {
    "kid": "hex, 8 bytes",
    "public_key": "hex, the raw 32-byte Ed25519 public key",
    "issuer": "the issuer code the key belongs to",
    "issuer_name": "the issuer's default name",
    "state": "active, retired or revoked",
    "retired_at": "RFC 3339 time or null: the key's retirement time (state retired only)",
    "not_before": "RFC 3339 time: the key's nbf",
    "not_after": "RFC 3339 time or null: the key's exp",
}
CARD_SCHEMA = {
    "keys": [KEY_SCHEMA],
    "vectors": [
        {
            "name": "what the vector tests",
            "text": "the exact text to verify (the token), nothing stripped",
            "now": "RFC 3339 time: the verifier's current time",
            "expected": "the result code: valid, malformed, unknown_issuer, bad_signature, "
            "key_revoked, expired or not_yet_valid",
            "error": "(invalid vectors) cardformat's error class",
            "claims": "(valid vectors) issuer, number, holder_name, birth_date (YYYY-MM-DD or "
            "null), status_index, issued_at, expires_at (RFC 3339)",
        }
    ],
}


def build() -> str:
    document = {
        "description": "Card format v1 test vectors: card tokens (docs/card-format.md, "
        "sections 1 to 4). Every listed key is trusted; the card's status is not read here.",
        "generator": "tests/vectors/generate_cards.py",
        "schema": CARD_SCHEMA,
        "keys": keys(),
        "vectors": vectors(),
    }
    return dump(document)


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def outputs() -> dict[Path, str]:
    from generate_documents import documents  # a sibling module, imported when run

    return {OUT: build()} | {OUT.with_name(name): dump(doc) for name, doc in documents().items()}


def main(argv: list[str]) -> int:
    files = outputs()
    if argv[1:] == ["--check"]:
        stale = [
            p.name
            for p, text in files.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"{name} does not match its generator", file=sys.stderr)
        return 1 if stale else 0
    for path, output in files.items():
        path.write_text(output, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
