from __future__ import annotations

import zlib
from datetime import timedelta

import cbor2
import pytest

import cardformat as cf
from cardformat.statuslist import MAX_STATUS_LIST_SIZE

from .conftest import NOW, Issuer, load_vectors

DRAFT = load_vectors("standards/token-status-list/vectors.json")


@pytest.mark.parametrize("vector", DRAFT["vectors"], ids=lambda v: f"{v['bits']} bits")
def test_draft_vectors_decode_and_re_encode(vector: dict) -> None:  # type: ignore[type-arg]
    expected = bytes.fromhex(vector["cbor_hex"])
    decoded = cf.StatusList.from_cbor(expected)
    assert decoded.bits == vector["bits"]
    assert decoded.size == DRAFT["size"]
    statuses = {int(i): s for i, s in vector["statuses"].items()}
    for index, status in statuses.items():
        assert decoded.get(index) == status
    # Every other entry is 0: count the set bits to be sure nothing else is.
    assert sum(bin(b).count("1") for b in decoded.to_bytes()) == sum(
        bin(s).count("1") for s in statuses.values()
    )
    built = cf.StatusList(DRAFT["size"], bits=vector["bits"])
    for index, status in statuses.items():
        built.set(index, status)
    assert built.to_cbor() == expected


@pytest.mark.parametrize("example", DRAFT["small"], ids=lambda e: f"{e['bits']} bits")
def test_draft_text_examples(example: dict) -> None:  # type: ignore[type-arg]
    statuses = example["statuses"]
    built = cf.StatusList(
        len(statuses) + (-len(statuses)) % (8 // example["bits"]), bits=example["bits"]
    )
    for index, status in enumerate(statuses):
        built.set(index, status)
    assert built.encode_lst() == bytes.fromhex(example["compressed_hex"])
    decoded = cf.StatusList.from_lst(bytes.fromhex(example["compressed_hex"]), bits=example["bits"])
    assert [decoded.get(i) for i in range(len(statuses))] == statuses


def test_set_and_get_do_not_disturb_neighbours() -> None:
    lst = cf.StatusList(16, bits=2)
    lst.set(5, cf.Status.SUSPENDED)
    lst.set(6, cf.Status.REVOKED)
    lst.set(5, cf.Status.VALID)
    assert [lst.get(i) for i in range(8)] == [0, 0, 0, 0, 0, 0, 1, 0]


@pytest.mark.parametrize(
    ("size", "bits"),
    [(10, 3), (3, 2), (0, 1), (-8, 1)],
    ids=["bits 3", "partial byte", "empty", "negative"],
)
def test_impossible_shapes_are_refused(size: int, bits: int) -> None:
    with pytest.raises(cf.MalformedError):
        cf.StatusList(size, bits)


def test_out_of_range_access() -> None:
    lst = cf.StatusList(8, bits=1)
    with pytest.raises(IndexError):
        lst.get(8)
    with pytest.raises(IndexError):
        lst.set(-1, 0)
    with pytest.raises(ValueError):
        lst.set(0, 2)


@pytest.mark.parametrize(
    "lst",
    [
        b"not zlib",
        zlib.compress(b"")[:-1],
        zlib.compress(b"\x00" * 4) + b"junk",
        zlib.compress(b""),
    ],
    ids=["garbage", "truncated", "trailing data", "empty"],
)
def test_bad_compressed_lists_are_malformed(lst: bytes) -> None:
    with pytest.raises(cf.MalformedError):
        cf.StatusList.from_lst(lst, bits=2)


def test_a_decompression_bomb_is_refused_without_inflating_it() -> None:
    bomb = zlib.compress(b"\x00" * (MAX_STATUS_LIST_SIZE // 4 + 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(cf.MalformedError, match="too large"):
        cf.StatusList.from_lst(bomb, bits=2)


@pytest.mark.parametrize(
    "obj", [[], {"bits": 2}, {"bits": "2", "lst": b""}, {"bits": 3, "lst": b""}]
)
def test_bad_status_list_objects(obj: object) -> None:
    with pytest.raises(cf.MalformedError):
        cf.StatusList.from_cbor(cbor2.dumps(obj))


def test_signed_status_list_round_trip(issuer: Issuer) -> None:
    lst = cf.StatusList(cf.MIN_STATUS_LIST_SIZE)
    lst.set(77, cf.Status.REVOKED)
    uri = "https://sxb.example/.well-known/citycard/status/0"
    token = cf.sign_status_list(
        lst,
        issuer="FR SXB",
        uri=uri,
        signing_key=issuer.key,
        now=NOW,
        ttl=3600,
        expires_at=NOW + timedelta(days=1),
    )
    verified = cf.verify_status_list(token, resolve_key=issuer.resolve, now=NOW, expected_uri=uri)
    assert verified.status_list.get(77) == cf.Status.REVOKED
    assert verified.status_list.size == cf.MIN_STATUS_LIST_SIZE
    assert (verified.uri, verified.ttl, verified.issued_at, verified.issuer) == (
        uri,
        3600,
        NOW,
        "FR SXB",
    )
    with pytest.raises(cf.MalformedError, match="another list"):
        cf.verify_status_list(token, resolve_key=issuer.resolve, now=NOW, expected_uri=uri + "1")
    with pytest.raises(cf.ExpiredError):
        cf.verify_status_list(token, resolve_key=issuer.resolve, now=NOW + timedelta(days=1))
    with pytest.raises(cf.UnknownKeyError):
        cf.verify_status_list(token, resolve_key=lambda kid: None, now=NOW)
    tampered = bytearray(token)
    tampered[-3] ^= 1
    with pytest.raises(cf.BadSignatureError):
        cf.verify_status_list(bytes(tampered), resolve_key=issuer.resolve, now=NOW)


def test_status_list_of_another_issuer_or_revoked_key_is_refused(issuer: Issuer) -> None:
    lst = cf.StatusList(cf.MIN_STATUS_LIST_SIZE)
    token = cf.sign_status_list(
        lst, issuer="BR SAO", uri="u", signing_key=issuer.key, now=NOW, ttl=60
    )
    with pytest.raises(cf.BadSignatureError):
        cf.verify_status_list(token, resolve_key=issuer.resolve, now=NOW)
    revoked = Issuer(state=cf.KeyState.REVOKED)
    token = cf.sign_status_list(
        lst, issuer="FR SXB", uri="u", signing_key=revoked.key, now=NOW, ttl=60
    )
    with pytest.raises(cf.KeyRevokedError):
        cf.verify_status_list(token, resolve_key=revoked.resolve, now=NOW)


def test_a_card_token_is_not_a_status_list(issuer: Issuer) -> None:
    from cardformat.base45 import b45decode

    card = cf.sign_card(
        cf.Card(number=cf.generate_card_number(), holder_name="A", birth_date=None, status_index=1),
        issuer="FR SXB",
        signing_key=issuer.key,
        now=NOW,
        expires_at=NOW + timedelta(days=1),
    )
    with pytest.raises(cf.MalformedError):
        cf.verify_status_list(b45decode(card[4:]), resolve_key=issuer.resolve, now=NOW)
    with pytest.raises(cf.MalformedError):
        cf.verify_status_list("text", resolve_key=issuer.resolve, now=NOW)  # type: ignore[arg-type]


def test_allocator_never_hands_out_an_index_twice_even_when_nearly_full() -> None:
    size = 4096
    taken: set[int] = set()
    for _ in range(size):
        index = cf.allocate_index(size, taken.__contains__)
        assert 0 <= index < size and index not in taken
        taken.add(index)
    with pytest.raises(ValueError, match="full"):
        cf.allocate_index(size, taken.__contains__)


def test_allocator_spreads_indices_over_the_whole_list() -> None:
    indices = [cf.allocate_index(cf.MIN_STATUS_LIST_SIZE, lambda i: False) for _ in range(400)]
    quarter = cf.MIN_STATUS_LIST_SIZE // 4
    assert {i // quarter for i in indices} == {0, 1, 2, 3}
