"""The vectors of the documents around a card: issuer metadata, status list tokens, and the
status decision a verifier takes from them (docs/card-format.md sections 5 and 6).

Called by generate_cards.py, which writes the files; nothing here is random. Each invalid
vector breaks one rule of the document that is otherwise valid, so its result code tests that
rule alone.
"""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from generate_cards import (
    ACTIVE,
    BASE,
    CHECKED,
    ENDED,
    ENDED_AT,
    ISSUED,
    ISSUER,
    KEY_SCHEMA,
    LATE,
    LATE_FROM,
    OTHER_CITY,
    RETIRED,
    RETIRED_AT,
    REVOKED,
    UNKNOWN,
    iso,
    keys,
    seeded_key,
    signed,
)

from cardformat import MIN_STATUS_LIST_SIZE, StatusList, cose, fingerprint, key_id
from cardformat import public_key_bytes as raw

ROOT = seeded_key("city-root-key-2025")
ROOT_2 = seeded_key("city-root-key-2026")
ROOT_3 = seeded_key("city-root-key-2027")
IMPOSTOR = seeded_key("root-of-an-impostor")
SIZE = MIN_STATUS_LIST_SIZE
URI = "https://cards.sxb.example/.well-known/citycard/status/0"
META_IAT = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
META_TTL = 86400
LIST_IAT = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
LIST_EXP = datetime(2026, 6, 8, 11, 0, tzinfo=UTC)
TYP_METADATA = "application/citycard-issuer+cbor"
TYP_ENDORSEMENT = "application/citycard-root-endorsement+cbor"
TYP_STATUS_LIST = "application/statuslist+cwt"
WEAK_KEY = b"\x01" + bytes(31)  # the identity point: of small order


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def sign(
    key: Ed25519PrivateKey,
    typ: str,
    payload: Any,
    *,
    canonical: bool = True,
    header: dict[int, Any] | None = None,
    tag: int | None = cose.COSE_SIGN1_TAG,
    flip: bool = False,
) -> bytes:
    """A COSE_Sign1 over ``payload`` (a CBOR object, or bytes taken as they are)."""
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload, canonical=canonical)
    protected = cbor2.dumps(
        header or {cose.HEADER_ALG: cose.ALG_EDDSA, cose.HEADER_KID: key_id(key), 16: typ},
        canonical=True,
    )
    signature = bytearray(key.sign(cose.sig_structure(protected, body)))
    if flip:
        signature[5] ^= 0x10
    parts = [protected, {}, body, bytes(signature)]
    return cbor2.dumps(parts if tag is None else cbor2.CBORTag(tag, parts))


# ---------------------------------------------------------------------------------- metadata


def published(key: Ed25519PrivateKey, **changes: Any) -> dict[str, Any]:
    return {
        "kid": key_id(key),
        "pub": raw(key),
        "state": "active",
        "nbf": ts(datetime(2025, 1, 1, tzinfo=UTC)),
        "exp": None,
        "retired": None,
    } | changes


def metadata_payload(root: Ed25519PrivateKey = ROOT, **changes: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "iss": ISSUER,
        "names": {"fr": "Strasbourg", "de": "Straßburg", "en": "Strasbourg (en)"},
        "root": raw(root),
        "keys": [
            published(ACTIVE),
            published(RETIRED, state="retired", retired=ts(RETIRED_AT)),
            published(REVOKED, state="revoked"),
        ],
        "status_lists": [{"id": 0, "uri": URI}],
        "status_list_size": SIZE,
        "serial": 7,
        "iat": ts(META_IAT),
        "ttl": META_TTL,
        "endorsements": [],
    } | changes


def endorsement(old: Ed25519PrivateKey, new: Ed25519PrivateKey, **changes: Any) -> bytes:
    body = {"iss": ISSUER, "old": raw(old), "new": raw(new), "iat": ts(META_IAT)} | changes
    return sign(old, TYP_ENDORSEMENT, body)


def metadata_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pinned = fingerprint(ROOT)

    def vector(
        name: str,
        document: bytes,
        expected: str,
        error: str | None = None,
        *,
        now: datetime = CHECKED,
        min_serial: int | None = 5,
        pin: str = pinned,
    ) -> None:
        entry: dict[str, Any] = {
            "name": name,
            "document": document.hex(),
            "pinned_fingerprint": pin,
            "min_serial": min_serial,
            "now": iso(now),
            "expected": expected,
        }
        if error:
            entry["error"] = error
        else:
            entry["metadata"] = {"issuer": ISSUER, "serial": 7, "default_name": "Straßburg"}
        out.append(entry)

    def refused(name: str, payload: Any, error: str = "MalformedError", **kw: Any) -> None:
        code = {
            "MalformedError": "malformed",
            "BadSignatureError": "bad_signature",
            "NotYetValidError": "not_yet_valid",
            "RollbackError": "rollback",
        }[error]
        root = kw.pop("root", ROOT)
        vector(name, sign(root, TYP_METADATA, payload, **kw), code, error)

    good = sign(ROOT, TYP_METADATA, metadata_payload())
    vector("valid metadata", good, "valid")
    vector(
        "valid metadata, never synced before (no serial accepted)", good, "valid", min_serial=None
    )
    vector("valid metadata, same serial as the one accepted", good, "valid", min_serial=7)
    vector(
        "valid metadata, its ttl just reached",
        good,
        "valid",
        now=META_IAT + timedelta(seconds=META_TTL),
    )
    vector(
        "stale metadata: past iat + ttl, accepted and reported stale",
        good,
        "stale",
        now=META_IAT + timedelta(seconds=META_TTL + 1),
    )
    vector(
        "valid metadata, dated five minutes ahead",
        good,
        "valid",
        now=META_IAT - timedelta(minutes=5),
    )
    vector(
        "the fingerprint pinned is another root's",
        good,
        "bad_signature",
        "BadSignatureError",
        pin=fingerprint(IMPOSTOR),
    )
    rotated = metadata_payload(ROOT_2, endorsements=[endorsement(ROOT, ROOT_2)])
    vector(
        "valid metadata under a new root endorsed by the pinned one",
        sign(ROOT_2, TYP_METADATA, rotated),
        "valid",
    )
    chain = metadata_payload(
        ROOT_3, endorsements=[endorsement(ROOT_2, ROOT_3), endorsement(ROOT, ROOT_2)]
    )
    vector("valid metadata after two root rotations", sign(ROOT_3, TYP_METADATA, chain), "valid")
    refused(
        "a new root endorsed by a root nobody pinned",
        metadata_payload(ROOT_3, endorsements=[endorsement(ROOT_2, ROOT_3)]),
        "BadSignatureError",
        root=ROOT_3,
    )
    refused(
        "an endorsement for another issuer",
        metadata_payload(ROOT_2, endorsements=[endorsement(ROOT, ROOT_2, iss="BR SAO")]),
        "BadSignatureError",
        root=ROOT_2,
    )
    refused(
        "an endorsement with an extra field",
        metadata_payload(ROOT_2, endorsements=[endorsement(ROOT, ROOT_2, note="x")]),
        root=ROOT_2,
    )
    refused(
        "an impostor's metadata",
        metadata_payload(IMPOSTOR),
        "BadSignatureError",
        root=IMPOSTOR,
    )
    refused(
        "metadata naming another root than its signer",
        metadata_payload(ROOT_2),
        "BadSignatureError",
    )
    vector(
        "one flipped signature bit",
        sign(ROOT, TYP_METADATA, metadata_payload(), flip=True),
        "bad_signature",
        "BadSignatureError",
    )
    vector(
        "rollback: a serial lower than the one accepted",
        good,
        "rollback",
        "RollbackError",
        min_serial=8,
    )
    vector(
        "dated more than five minutes ahead",
        good,
        "not_yet_valid",
        "NotYetValidError",
        now=META_IAT - timedelta(minutes=5, seconds=1),
    )
    vector(
        "untagged COSE_Sign1",
        sign(ROOT, TYP_METADATA, metadata_payload(), tag=None),
        "malformed",
        "MalformedError",
    )
    vector(
        "wrong document type (typ)",
        sign(ROOT, TYP_STATUS_LIST, metadata_payload()),
        "malformed",
        "MalformedError",
    )
    refused("payload not in deterministic encoding", metadata_payload(), canonical=False)
    refused("version 2", metadata_payload(v=2))
    refused("an unknown field", metadata_payload(extra=1))
    without = metadata_payload()
    del without["endorsements"]
    refused("the endorsements field missing", without)
    refused("serial as a bignum (tag 2)", metadata_payload(serial=cbor2.CBORTag(2, b"\x07")))
    refused("serial negative", metadata_payload(serial=-1))
    refused("iat at 2^32", metadata_payload(iat=2**32))
    refused("ttl at 2^32", metadata_payload(ttl=2**32))
    refused("status_list_size below 131,072", metadata_payload(status_list_size=SIZE - 4))
    refused("status_list_size not a multiple of 4", metadata_payload(status_list_size=SIZE + 2))
    refused(
        "two status lists with the same id",
        metadata_payload(status_lists=[{"id": 0, "uri": URI}, {"id": 0, "uri": URI + "b"}]),
    )
    refused("issuer code not a UN/LOCODE", metadata_payload(iss="Strasbourg"))
    refused(
        "a signing key of small order",
        metadata_payload(keys=[published(ACTIVE) | {"kid": key_id(WEAK_KEY), "pub": WEAK_KEY}]),
    )
    refused(
        "a signing key whose kid does not match it",
        metadata_payload(keys=[published(ACTIVE, kid=key_id(RETIRED))]),
    )
    no_retired = published(ACTIVE)
    del no_retired["retired"]
    refused("a signing key without its retired field", metadata_payload(keys=[no_retired]))
    refused(
        "a retired key without its retirement time",
        metadata_payload(keys=[published(RETIRED, state="retired")]),
    )
    refused(
        "a signing key whose exp is not after its nbf",
        metadata_payload(keys=[published(ACTIVE, exp=ts(datetime(2025, 1, 1, tzinfo=UTC)))]),
    )
    refused("an unknown key state", metadata_payload(keys=[published(ACTIVE, state="lost")]))
    return out


# ------------------------------------------------------------------------------ status lists


def entries(statuses: dict[int, int], size: int = SIZE) -> StatusList:
    status_list = StatusList(size)
    for index, value in statuses.items():
        status_list.set(index, value)
    return status_list


def list_claims(status_list: StatusList | None = None, **changes: Any) -> dict[int, Any]:
    lst = status_list or entries({BASE.status_index: 1})
    return {
        1: ISSUER,
        2: URI,
        4: ts(LIST_EXP),
        6: ts(LIST_IAT),
        65533: {"bits": 2, "lst": zlib.compress(lst.to_bytes(), 9)},
        65534: 3600,
    } | changes


def status_list_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def vector(
        name: str,
        token: bytes,
        expected: str,
        error: str | None = None,
        *,
        now: datetime = LIST_IAT + timedelta(hours=1),
        stored_issued_at: datetime | None = LIST_IAT - timedelta(hours=1),
    ) -> None:
        entry: dict[str, Any] = {
            "name": name,
            "token": token.hex(),
            "expected_uri": URI,
            "expected_size": SIZE,
            "stored_issued_at": iso(stored_issued_at) if stored_issued_at else None,
            "now": iso(now),
            "expected": expected,
        }
        if error:
            entry["error"] = error
        out.append(entry)

    def token(claims: Any = None, key: Ed25519PrivateKey = ACTIVE, **kw: Any) -> bytes:
        return sign(key, TYP_STATUS_LIST, list_claims() if claims is None else claims, **kw)

    def malformed(name: str, claims: Any = None, **kw: Any) -> None:
        vector(name, token(claims, **kw), "malformed", "MalformedError")

    vector("valid status list", token(), "valid")
    no_exp = list_claims()
    del no_exp[4]
    vector("valid status list without exp", token(no_exp), "valid")
    vector("valid status list, first copy (none stored)", token(), "valid", stored_issued_at=None)
    vector(
        "valid status list, same iat as the stored copy",
        token(),
        "valid",
        stored_issued_at=LIST_IAT,
    )
    vector(
        "valid status list, one second before exp",
        token(),
        "valid",
        now=LIST_EXP - timedelta(seconds=1),
    )
    vector(
        "valid status list, dated five minutes ahead",
        token(),
        "valid",
        now=LIST_IAT - timedelta(minutes=5),
    )
    vector(
        "valid status list signed in the last second of its key's validity",
        token((list_claims() | {6: ts(ENDED_AT) - 1}), key=ENDED),
        "valid",
        stored_issued_at=None,
    )
    vector("unknown key id", token(key=UNKNOWN), "unknown_issuer", "UnknownKeyError")
    vector("one flipped signature bit", token(flip=True), "bad_signature", "BadSignatureError")
    vector(
        "iss another city than the key's",
        token(list_claims() | {1: "BR SAO"}),
        "bad_signature",
        "BadSignatureError",
    )
    vector(
        "signed by another city's key for this city",
        token(key=OTHER_CITY),
        "bad_signature",
        "BadSignatureError",
    )
    vector("revoked signing key", token(key=REVOKED), "key_revoked", "KeyRevokedError")
    vector(
        "retired key signing after its retirement",
        token(key=RETIRED),
        "key_revoked",
        "KeyRevokedError",
    )
    vector(
        "signed before its key's nbf",
        token((list_claims() | {6: ts(LATE_FROM) - 1}), key=LATE),
        "key_revoked",
        "KeyRevokedError",
        stored_issued_at=None,
    )
    vector(
        "signed at its key's exp",
        token((list_claims() | {6: ts(ENDED_AT)}), key=ENDED),
        "key_revoked",
        "KeyRevokedError",
        stored_issued_at=None,
    )
    vector(
        "dated more than five minutes ahead",
        token(),
        "not_yet_valid",
        "NotYetValidError",
        now=LIST_IAT - timedelta(minutes=5, seconds=1),
    )
    vector("expired: now equals exp", token(), "expired", "ExpiredError", now=LIST_EXP)
    vector(
        "rollback: older than the stored copy",
        token(),
        "rollback",
        "RollbackError",
        stored_issued_at=LIST_IAT + timedelta(seconds=1),
    )
    malformed("untagged COSE_Sign1", tag=None)
    vector(
        "wrong document type (typ)",
        sign(ACTIVE, TYP_METADATA, list_claims()),
        "malformed",
        "MalformedError",
    )
    malformed("payload not in deterministic encoding", canonical=False)
    without_ttl = list_claims()
    del without_ttl[65534]
    malformed("the ttl claim missing", without_ttl)
    malformed("an unknown claim", (list_claims() | {8: 1}))
    malformed("sub another list's URI", (list_claims() | {2: URI + "1"}))
    malformed("exp not after iat", (list_claims() | {4: ts(LIST_IAT)}))
    malformed("iat at 2^32", (list_claims() | {6: 2**32}))
    one_bit = {"bits": 1, "lst": zlib.compress(bytes(SIZE // 8), 9)}
    malformed("bits 1", (list_claims() | {65533: one_bit}))
    malformed("lst not zlib data", (list_claims() | {65533: {"bits": 2, "lst": b"not zlib"}}))
    trailing = zlib.compress(bytes(SIZE // 4), 9) + b"\x00"
    malformed(
        "bytes after the zlib stream", (list_claims() | {65533: {"bits": 2, "lst": trailing}})
    )
    extra = {"bits": 2, "lst": zlib.compress(bytes(SIZE // 4), 9), "x": 1}
    malformed("an unknown key in the StatusList", (list_claims() | {65533: extra}))
    malformed("a list of another size than announced", list_claims(entries({}, SIZE * 2)))
    return out


# ------------------------------------------------------------------------- status decisions


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def status_decision_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    card = signed()
    index = BASE.status_index
    top_index = 2**32 - 1

    def listed(
        list_id: int,
        statuses: dict[int, int],
        *,
        issued: datetime = LIST_IAT,
        expires: datetime | None = LIST_EXP,
    ) -> dict[str, Any]:
        return {
            "id": list_id,
            "bits": 2,
            "lst": b64url(zlib.compress(entries(statuses).to_bytes(), 9)),
            "issued_at": iso(issued),
            "expires_at": iso(expires) if expires else None,
        }

    def vector(
        name: str,
        lists: list[dict[str, Any]],
        expected: str,
        *,
        text: str = card,
        now: datetime = LIST_IAT + timedelta(hours=1),
    ) -> None:
        out.append(
            {
                "name": name,
                "text": text,
                "status_list_size": SIZE,
                "status_lists": lists,
                "max_status_age_seconds": 7 * 86400,
                "now": iso(now),
                "expected": expected,
            }
        )

    for value, expected in [(0, "valid"), (1, "revoked"), (2, "suspended"), (3, "status_unknown")]:
        vector(f"entry {value}", [listed(0, {index: value})], expected)
    vector(
        "the neighbouring entries set, this one 0",
        [listed(0, {index - 1: 3, index + 1: 3})],
        "valid",
    )
    vector("no list accepted", [], "status_unknown")
    vector("no list with the card's id", [listed(1, {index: 1})], "status_unknown")
    vector(
        "the list is found by its id, not its place",
        [listed(1, {}), listed(0, {index: 1})],
        "revoked",
    )
    vector(
        "list exactly the maximum age old",
        [listed(0, {index: 1}, expires=None)],
        "revoked",
        now=LIST_IAT + timedelta(days=7),
    )
    vector(
        "stale: one second past the maximum age",
        [listed(0, {index: 1}, expires=None)],
        "status_unknown",
        now=LIST_IAT + timedelta(days=7, seconds=1),
    )
    vector(
        "stale: the list's exp reached",
        [listed(0, {index: 1}, expires=LIST_IAT + timedelta(hours=1))],
        "status_unknown",
    )
    top = card_with_index(top_index)
    vector(
        "status index 2^32 - 1: the last entry of list 32767",
        [listed(top_index // SIZE, {top_index % SIZE: 2})],
        "suspended",
        text=top,
    )
    return out


def card_with_index(index: int) -> str:
    return signed(BASE._replace(status_index=index), now=ISSUED)


# ------------------------------------------------------------------------------- the files


SCHEMA_TIME = "RFC 3339 time"
CODES = "the result code"


def documents() -> dict[str, dict[str, Any]]:
    generator = "tests/vectors/generate_cards.py"
    return {
        "metadata.json": {
            "description": "Issuer metadata vectors (docs/card-format.md section 5): verify the "
            "document against the pinned fingerprint at `now`, refusing a serial lower than "
            "`min_serial` (null: none accepted yet).",
            "generator": generator,
            "schema": {
                "vectors": [
                    {
                        "name": "what the vector tests",
                        "document": "hex: the bytes served at /.well-known/citycard/issuer",
                        "pinned_fingerprint": "the root fingerprint pinned (16 groups of 4 hex)",
                        "min_serial": "the serial last accepted, or null",
                        "now": SCHEMA_TIME,
                        "expected": "valid, stale (accepted, past iat + ttl), malformed, "
                        "bad_signature, not_yet_valid or rollback",
                        "error": "(refused) cardformat's error class",
                        "metadata": "(accepted) issuer, serial and default_name",
                    }
                ]
            },
            "vectors": metadata_vectors(),
        },
        "status-lists.json": {
            "description": "Status List Token vectors (docs/card-format.md section 6): verify "
            "the token with the keys below at `now`, for the list published at `expected_uri` "
            "with `expected_size` entries, refusing one older than `stored_issued_at`.",
            "generator": generator,
            "schema": {
                "keys": [KEY_SCHEMA],
                "vectors": [
                    {
                        "name": "what the vector tests",
                        "token": "hex: the bytes served at the list's URI",
                        "expected_uri": "the URI the metadata gives for this list",
                        "expected_size": "the metadata's status_list_size",
                        "stored_issued_at": "iat of the copy already accepted, or null",
                        "now": SCHEMA_TIME,
                        "expected": "valid, malformed, unknown_issuer, bad_signature, "
                        "key_revoked, not_yet_valid, expired or rollback",
                        "error": "(refused) cardformat's error class",
                    }
                ],
            },
            "keys": keys(),
            "vectors": status_list_vectors(),
        },
        "status-decisions.json": {
            "description": "Status decisions (docs/card-format.md section 6.1): the card "
            "verifies (its keys are those of cards.json); read its status from the accepted "
            "lists at `now`, a list older than `max_status_age_seconds` being stale.",
            "generator": generator,
            "schema": {
                "keys": [KEY_SCHEMA],
                "vectors": [
                    {
                        "name": "what the vector tests",
                        "text": "the card's text (it verifies)",
                        "status_list_size": "the metadata's status_list_size",
                        "status_lists": [
                            {
                                "id": "the list's id",
                                "bits": "2",
                                "lst": "base64url (no padding) of the zlib-compressed list",
                                "issued_at": SCHEMA_TIME,
                                "expires_at": f"{SCHEMA_TIME} or null",
                            }
                        ],
                        "max_status_age_seconds": "the verifier's maximum age of a list",
                        "now": SCHEMA_TIME,
                        "expected": "valid, revoked, suspended or status_unknown",
                    }
                ],
            },
            "keys": keys(),
            "vectors": status_decision_vectors(),
        },
    }
