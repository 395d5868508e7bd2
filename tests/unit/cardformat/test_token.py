from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

import cardformat as cf
from cardformat.base45 import b45decode, b45encode
from cardformat.numbers import format_card_number

from .conftest import NOW, Issuer

EXPIRES = NOW + timedelta(days=5 * 365)


def make_card(name: str = "Amina Diallo", **kw: object) -> cf.Card:
    fields: dict[str, object] = {
        "number": cf.generate_card_number(),
        "holder_name": name,
        "birth_date": date(1991, 4, 23),
        "status_index": 123_456,
    } | kw
    return cf.Card(**fields)  # type: ignore[arg-type]


def sign(issuer: Issuer, card: cf.Card, **kw: object) -> str:
    args: dict[str, object] = {"now": NOW, "expires_at": EXPIRES} | kw
    return cf.sign_card(card, issuer=issuer.code, signing_key=issuer.key, **args)  # type: ignore[arg-type]


def test_sign_then_verify_returns_exactly_what_was_signed(issuer: Issuer) -> None:
    card = make_card()
    text = sign(issuer, card)
    assert text.startswith("MC1:")
    verified = cf.verify_card(text, resolve_key=issuer.resolve, now=NOW)
    assert verified.card == card
    assert verified.issuer == "FR SXB"
    assert verified.issued_at == NOW
    assert verified.expires_at == EXPIRES
    assert verified.kid == cf.key_id(issuer.key)


def qr_version(text: str) -> int:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    assert code.data_list[0].mode == qrcode.util.MODE_ALPHA_NUM
    return int(code.version)


def test_a_40_byte_name_fits_a_version_9_qr_code_at_level_m(issuer: Issuer) -> None:
    # The worst case for every other field: 4-byte timestamps and status index.
    card = make_card("É" * 20, status_index=2**32 - 1, birth_date=date(1900, 1, 1))
    assert len(card.holder_name.encode()) == 40
    assert qr_version(sign(issuer, card)) <= 9


def test_signing_refuses_what_could_not_be_verified(issuer: Issuer) -> None:
    with pytest.raises(cf.MalformedError, match="NFC"):
        sign(issuer, make_card(unicodedata.normalize("NFD", "Nguyễn")))
    with pytest.raises(cf.MalformedError, match="status index"):
        sign(issuer, make_card(status_index=2**32))
    with pytest.raises(cf.MalformedError, match="expire after"):
        sign(issuer, make_card(), expires_at=NOW)
    with pytest.raises(cf.MalformedError, match="UN/LOCODE"):
        cf.sign_card(
            make_card(), issuer="Strasbourg", signing_key=issuer.key, now=NOW, expires_at=EXPIRES
        )
    with pytest.raises(ValueError, match="timezone"):
        sign(issuer, make_card(), now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("   ", "space"),
        ("\u00a0Amina", "space"),
        ("Amina\u3000", "space"),
        ("Amina\u2009", "space"),
        (" Amina", "space"),
        ("A" * 101, "100 UTF-8 bytes"),
        ("é" * 51, "100 UTF-8 bytes"),
        ("Amina\x00Diallo", "U+0000"),
        ("Amina\u202eollaiD", "U+202E"),
        ("Amina\u2066Diallo", "U+2066"),
        ("Amina\ue000", "U+E000"),
        ("Amina\u2028Diallo", "U+2028"),
    ],
)
def test_holder_name_rules(name: str, message: str) -> None:
    with pytest.raises(cf.MalformedError, match=re.escape(message)):
        cf.validate_holder_name(name)


def test_holder_name_is_normalised_to_nfc() -> None:
    assert cf.validate_holder_name(unicodedata.normalize("NFD", "Nguyễn")) == "Nguyễn"
    assert cf.validate_holder_name("محمد\u200dعلي") == "محمد\u200dعلي"  # ZWJ is allowed
    with pytest.raises(cf.MalformedError):
        cf.validate_holder_name(42)  # type: ignore[arg-type]


def test_expiry_and_not_yet_valid_bounds(issuer: Issuer) -> None:
    text = sign(issuer, make_card())
    cf.verify_card(text, resolve_key=issuer.resolve, now=EXPIRES - timedelta(seconds=1))
    with pytest.raises(cf.ExpiredError):
        cf.verify_card(text, resolve_key=issuer.resolve, now=EXPIRES)
    # A verifier's clock may lag the issuer's by up to five minutes.
    cf.verify_card(text, resolve_key=issuer.resolve, now=NOW - timedelta(minutes=5))
    with pytest.raises(cf.NotYetValidError):
        cf.verify_card(text, resolve_key=issuer.resolve, now=NOW - timedelta(minutes=5, seconds=1))


def test_key_states(issuer: Issuer) -> None:
    text = sign(issuer, make_card())
    revoked = Issuer(state=cf.KeyState.REVOKED)
    revoked.key = issuer.key
    revoked.trusted = revoked.trusted.__class__(
        kid=issuer.trusted.kid,
        public_key=issuer.trusted.public_key,
        issuer="FR SXB",
        state=cf.KeyState.REVOKED,
    )
    with pytest.raises(cf.KeyRevokedError):
        cf.verify_card(text, resolve_key=revoked.resolve, now=NOW)


@pytest.mark.parametrize("bad", [None, 42, b"MC1:", ["MC1:"]])
def test_non_text_input_is_malformed(issuer: Issuer, bad: object) -> None:
    with pytest.raises(cf.MalformedError):
        cf.verify_card(bad, resolve_key=issuer.resolve, now=NOW)  # type: ignore[arg-type]


def test_a_newer_version_is_reported_as_such(issuer: Issuer) -> None:
    text = sign(issuer, make_card())
    with pytest.raises(cf.UnsupportedVersionError):
        cf.verify_card("MC2:" + text[4:], resolve_key=issuer.resolve, now=NOW)
    assert cf.UnsupportedVersionError.code == "malformed"


names = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Co", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).map(lambda s: unicodedata.normalize("NFC", s).strip())


@settings(max_examples=200, deadline=None)
@given(
    name=names,
    birth=st.none() | st.dates(min_value=date(1870, 1, 1), max_value=date(2030, 1, 1)),
    index=st.integers(min_value=0, max_value=2**32 - 1),
    number=st.integers(min_value=0, max_value=2**30 - 1),
    validity=st.integers(min_value=1, max_value=50 * 365 * 86400),
)
def test_any_valid_card_round_trips(
    name: str, birth: date | None, index: int, number: int, validity: int
) -> None:
    try:
        name = cf.validate_holder_name(name)
    except cf.MalformedError:
        return  # the strategy produced a name the rules refuse; covered above
    issuer = SHARED_ISSUER
    card = cf.Card(
        number=format_card_number(number), holder_name=name, birth_date=birth, status_index=index
    )
    expires = NOW + timedelta(seconds=validity)
    text = cf.sign_card(card, issuer="FR SXB", signing_key=issuer.key, now=NOW, expires_at=expires)
    assert len(text) <= cf.MAX_TEXT_LENGTH
    assert cf.verify_card(text, resolve_key=issuer.resolve, now=NOW).card == card


SHARED_ISSUER = Issuer()
VALID_TOKEN = b45decode(sign(SHARED_ISSUER, make_card())[4:])


def mutate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in flips:
        out[position % len(out)] = value
    return bytes(out)


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=600)
    | st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400).map(
        lambda s: "MC1:" + s
    )
)
def test_any_text_ends_in_a_typed_error(text: str) -> None:
    with pytest.raises(cf.CardFormatError):
        cf.verify_card(text, resolve_key=SHARED_ISSUER.resolve, now=NOW)


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=400)
    | st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4).map(
        lambda flips: mutate(VALID_TOKEN, flips)
    )
)
def test_any_bytes_end_in_a_typed_error_or_the_valid_card(data: bytes) -> None:
    text = "MC1:" + b45encode(data)
    try:
        verified = cf.verify_card(text, resolve_key=SHARED_ISSUER.resolve, now=NOW)
    except cf.CardFormatError:
        return
    assert data == VALID_TOKEN  # only the untouched token may verify
    assert verified.issuer == "FR SXB"


def test_claims_with_integers_beyond_64_bits_are_malformed(issuer: Issuer) -> None:
    import cbor2

    from cardformat import cose

    claims = {1: "FR SXB", 4: 2**70, 6: 1, -65537: [1, "Ana", None, 1]}
    header = {cose.HEADER_ALG: cose.ALG_EDDSA, cose.HEADER_KID: cf.key_id(issuer.key)}
    token = cose.sign1(header, cbor2.dumps(claims), issuer.key)
    with pytest.raises(cf.MalformedError):
        cf.verify_card("MC1:" + b45encode(token), resolve_key=issuer.resolve, now=NOW)
