from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cardformat as cf
from cardformat import cose
from cardformat.metadata import TYP_METADATA

from .conftest import NOW


def build(
    root: Ed25519PrivateKey | None = None, **kw: object
) -> tuple[cf.IssuerMetadata, Ed25519PrivateKey]:
    root = root or cf.generate_key()
    signing = cf.generate_key()
    meta = cf.IssuerMetadata(
        issuer="FR SXB",
        names={"fr": "Strasbourg", "de": "Straßburg"},
        root_key=cf.public_key_bytes(root),
        keys=(
            cf.PublishedKey(
                kid=cf.key_id(signing),
                public_key=cf.public_key_bytes(signing),
                state=cf.KeyState.ACTIVE,
                not_before=NOW,
                not_after=NOW + timedelta(days=365),
            ),
        ),
        status_lists=(cf.StatusListRef(id=0, uri="https://sxb.example/s/0"),),
        status_list_size=cf.MIN_STATUS_LIST_SIZE,
        serial=5,
        issued_at=NOW,
        ttl=86400,
    )
    return replace(meta, **kw), root


def test_round_trip_against_the_pinned_fingerprint() -> None:
    meta, root = build()
    data = cf.sign_metadata(meta, root_key=root)
    verified = cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(root), now=NOW)
    assert verified == meta
    # The default is the tag first in deterministic order ("de" before "fr"), not the first
    # written: CBOR maps keep no order.
    assert verified.default_name == "Straßburg"
    (trusted,) = verified.trusted_keys()
    assert trusted.issuer == "FR SXB" and trusted.kid == meta.keys[0].kid
    assert verified.status_list_ref(cf.MIN_STATUS_LIST_SIZE - 1) == (
        meta.status_lists[0],
        cf.MIN_STATUS_LIST_SIZE - 1,
    )
    with pytest.raises(LookupError):
        verified.status_list_ref(cf.MIN_STATUS_LIST_SIZE)
    assert not verified.is_stale(NOW + timedelta(seconds=86400))
    assert verified.is_stale(NOW + timedelta(seconds=86401))


def test_a_wrong_fingerprint_is_refused() -> None:
    meta, root = build()
    data = cf.sign_metadata(meta, root_key=root)
    with pytest.raises(cf.BadSignatureError, match="pinned"):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(cf.generate_key()), now=NOW)


def test_metadata_signed_by_another_root_naming_ours_is_refused() -> None:
    meta, root = build()
    impostor = cf.generate_key()
    payload = cose.loads(cose.decode_sign1(cf.sign_metadata(meta, root_key=root)).payload)
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: cf.key_id(root),
        cose.HEADER_TYP: TYP_METADATA,
    }
    forged = cose.sign1(header, cbor2.dumps(payload), impostor)
    with pytest.raises(cf.BadSignatureError):
        cf.verify_metadata(forged, pinned_fingerprint=cf.fingerprint(root), now=NOW)


def test_tampered_metadata_is_refused() -> None:
    meta, root = build()
    data = bytearray(cf.sign_metadata(meta, root_key=root))
    data[data.index(b"Strasbourg")] ^= 0x20
    with pytest.raises(cf.BadSignatureError):
        cf.verify_metadata(bytes(data), pinned_fingerprint=cf.fingerprint(root), now=NOW)


def test_rollback_is_refused_but_the_same_serial_is_accepted() -> None:
    meta, root = build(serial=7)
    data = cf.sign_metadata(meta, root_key=root)
    fp = cf.fingerprint(root)
    cf.verify_metadata(data, pinned_fingerprint=fp, now=NOW, min_serial=7)
    with pytest.raises(cf.RollbackError):
        cf.verify_metadata(data, pinned_fingerprint=fp, now=NOW, min_serial=8)


def test_metadata_from_the_future_is_refused() -> None:
    meta, root = build(issued_at=NOW + timedelta(hours=1))
    data = cf.sign_metadata(meta, root_key=root)
    with pytest.raises(cf.NotYetValidError):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(root), now=NOW)


def test_root_rotation_is_followed_through_endorsements() -> None:
    first, second, third = cf.generate_key(), cf.generate_key(), cf.generate_key()
    chain = (
        cf.endorse_root(
            old_root=second, new_root=cf.public_key_bytes(third), issuer="FR SXB", now=NOW
        ),
        cf.endorse_root(
            old_root=first, new_root=cf.public_key_bytes(second), issuer="FR SXB", now=NOW
        ),
    )
    meta, _ = build(root=third, endorsements=chain)
    data = cf.sign_metadata(meta, root_key=third)
    verified = cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(first), now=NOW)
    assert verified.root_key == cf.public_key_bytes(third)
    # A partner that pinned a root outside the chain is not carried along.
    with pytest.raises(cf.BadSignatureError):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(cf.generate_key()), now=NOW)


def test_an_endorsement_for_another_city_is_refused() -> None:
    first, second = cf.generate_key(), cf.generate_key()
    wrong = cf.endorse_root(
        old_root=first, new_root=cf.public_key_bytes(second), issuer="BR SAO", now=NOW
    )
    meta, _ = build(root=second, endorsements=(wrong,))
    with pytest.raises(cf.BadSignatureError, match="another issuer"):
        cf.verify_metadata(
            cf.sign_metadata(meta, root_key=second),
            pinned_fingerprint=cf.fingerprint(first),
            now=NOW,
        )


def test_signing_with_a_root_the_metadata_does_not_name_is_refused() -> None:
    meta, _ = build()
    with pytest.raises(ValueError):
        cf.sign_metadata(meta, root_key=cf.generate_key())


def resign(meta: cf.IssuerMetadata, root: object, mutate: object) -> bytes:
    """Re-sign the metadata after editing its decoded payload (structure tests)."""
    payload = cose.loads(cose.decode_sign1(cf.sign_metadata(meta, root_key=root)).payload)
    mutate(payload)  # type: ignore[operator]
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: cf.key_id(root),
        cose.HEADER_TYP: TYP_METADATA,
    }
    return cose.sign1(header, cbor2.dumps(payload, canonical=True), root)


# The identity point (x = 0, y = 1): a key under which anyone can make signatures OpenSSL takes.
IDENTITY_KEY = b"\x01" + bytes(31)


def test_metadata_listing_a_signing_key_of_small_order_is_refused_whole() -> None:
    meta, root = build()

    def weak_key(payload: dict) -> None:  # type: ignore[type-arg]
        payload["keys"].append(
            dict(payload["keys"][0], kid=cf.key_id(IDENTITY_KEY), pub=IDENTITY_KEY)
        )

    data = resign(meta, root, weak_key)
    with pytest.raises(cf.MalformedError, match="small order"):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(root), now=NOW)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(v=2),
        lambda p: p.pop("serial"),
        lambda p: p.update(serial=-1),
        lambda p: p.update(names={"fr": 5}),
        lambda p: p.update(iss="Strasbourg"),
        lambda p: p.update(iat="yesterday"),
        lambda p: p.update(iat=2**70),
        lambda p: p["keys"][0].update(state="lost"),
        lambda p: p["keys"][0].update(kid=b"\x00" * 8),
        lambda p: p["keys"][0].update(nbf=None),
        lambda p: p.update(status_lists=[{"id": 0, "uri": 5}]),
        lambda p: p.update(status_list_size=0),
        lambda p: p.update(endorsements=["text"]),
    ],
    ids=[
        "version 2",
        "no serial",
        "negative serial",
        "names not text",
        "issuer not a LOCODE",
        "iat not a number",
        "iat out of range",
        "unknown key state",
        "kid mismatch",
        "key without nbf",
        "uri not text",
        "list size zero",
        "endorsement not bytes",
    ],
)
def test_malformed_metadata_is_refused(mutate: object) -> None:
    meta, root = build()
    data = resign(meta, root, mutate)
    with pytest.raises(cf.CardFormatError):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(root), now=NOW)


@pytest.mark.parametrize(
    "endorsement",
    [b"\x00", cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""]))],
    ids=["not COSE", "not an endorsement"],
)
def test_a_malformed_endorsement_on_the_chain_is_refused(endorsement: bytes) -> None:
    meta, root = build(endorsements=(endorsement,))
    data = cf.sign_metadata(meta, root_key=root)
    with pytest.raises(cf.MalformedError):
        cf.verify_metadata(data, pinned_fingerprint=cf.fingerprint(cf.generate_key()), now=NOW)


def test_oversized_or_non_bytes_metadata_is_malformed() -> None:
    with pytest.raises(cf.MalformedError):
        cf.verify_metadata(b"\x00" * (1 << 20 + 1), pinned_fingerprint="0" * 64, now=NOW)
    with pytest.raises(cf.MalformedError):
        cf.verify_metadata("text", pinned_fingerprint="0" * 64, now=NOW)


def test_the_default_name_does_not_depend_on_the_order_names_were_written() -> None:
    for names in (
        {"fr": "Strasbourg", "en": "Strasbourg (en)"},
        {"en": "Strasbourg (en)", "fr": "Strasbourg"},
    ):
        assert build(names=names)[0].default_name == "Strasbourg (en)"
    assert (
        build(names={"fr": "Strasbourg", "fr-CA": "Strasbourg (CA)"})[0].default_name
        == "Strasbourg"
    )
    assert build(names={})[0].default_name == "FR SXB"


def test_a_payload_not_in_deterministic_encoding_is_refused() -> None:
    meta, root = build()
    data = cf.sign_metadata(meta, root_key=root)
    payload = cose.decode_sign1(data).payload
    shuffled = cbor2.dumps(dict(reversed(list(cbor2.loads(payload).items()))))
    header = {
        cose.HEADER_ALG: cose.ALG_EDDSA,
        cose.HEADER_KID: cf.key_id(root),
        cose.HEADER_TYP: TYP_METADATA,
    }
    with pytest.raises(cf.MalformedError, match="deterministic"):
        cf.verify_metadata(
            cose.sign1(header, shuffled, root), pinned_fingerprint=cf.fingerprint(root), now=NOW
        )
