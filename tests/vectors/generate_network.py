"""The vectors of a network's member directory (docs/card-format.md section 9).

Called by generate_cards.py, which writes tests/vectors/network.json; nothing here is random.
Each invalid vector breaks one rule of a directory that is otherwise valid, so its result code
tests that rule alone. A vector gives the directory, the fingerprint the verifier pinned, the
directory it accepted last (or null) and the time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from generate_cards import iso, seeded_key
from generate_documents import WEAK_KEY, sign, ts

from cardformat import fingerprint
from cardformat import public_key_bytes as raw

NET = "MIGRATION-ROUTES"
NET_ROOT = seeded_key("network-root-key-2026")
NET_ROOT_2 = seeded_key("network-root-key-2027")
NET_IMPOSTOR = seeded_key("network-root-of-an-impostor")
SXB_ROOT = seeded_key("city-root-key-2025")
SAO_ROOT = seeded_key("sao-paulo-root-key")
TUN_ROOT = seeded_key("tunis-root-key")
TYP = "application/citycard-network+cbor"
TYP_ENDORSEMENT = "application/citycard-root-endorsement+cbor"
ADMITTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SUSPENDED = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
IAT = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
NEXT = IAT + timedelta(days=7)
EXP = IAT + timedelta(days=30)
CHECKED = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def member(code: str, root: Any, name: str, **changes: Any) -> dict[str, Any]:
    host = code.replace(" ", "").lower()
    return {
        "iss": code,
        "names": {"en": name},
        "url": f"https://cards.{host}.example/.well-known/citycard/issuer",
        "root": raw(root),
        "state": "active",
        "since": ts(ADMITTED),
    } | changes


HISTORY = [
    [ts(ADMITTED), "BR SAO", "admitted", "founding member"],
    [ts(ADMITTED), "FR SXB", "admitted", "founding member"],
    [ts(ADMITTED), "TN TUN", "admitted", ""],
    [ts(SUSPENDED), "TN TUN", "suspended", "unpaid dues"],
]
MEMBERS = [
    member("BR SAO", SAO_ROOT, "São Paulo"),
    member("FR SXB", SXB_ROOT, "Strasbourg"),
    member("TN TUN", TUN_ROOT, "Tunis", state="suspended", since=ts(SUSPENDED)),
]


def payload(signer: Any = NET_ROOT, **changes: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "net": NET,
        "names": {"en": "Cities of the migration routes", "fr": "Villes des routes migratoires"},
        "root": raw(signer),
        "serial": 12,
        "iat": ts(IAT),
        "next": ts(NEXT),
        "exp": ts(EXP),
        "members": MEMBERS,
        "history": HISTORY,
        "end": [],
    } | changes


def endorsement(old: Any, new: Any, issuer: str = NET) -> bytes:
    body = {"iss": issuer, "old": raw(old), "new": raw(new), "iat": ts(IAT)}
    return sign(old, TYP_ENDORSEMENT, body)


def directory(signer: Any = NET_ROOT, **changes: Any) -> bytes:
    return sign(signer, TYP, payload(signer, **changes))


_CODES = {
    "MalformedError": "malformed",
    "BadSignatureError": "bad_signature",
    "NotYetValidError": "not_yet_valid",
    "RollbackError": "rollback",
    "ExpiredError": "expired",
}


def network_vectors() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    good = directory()
    # The copy accepted before: serial 11, before TN TUN's suspension.
    earlier = sign(
        NET_ROOT,
        TYP,
        payload(
            serial=11,
            iat=ts(SUSPENDED - timedelta(days=1)),
            next=ts(SUSPENDED + timedelta(days=6)),
            members=[*MEMBERS[:2], member("TN TUN", TUN_ROOT, "Tunis")],
            history=HISTORY[:3],
        ),
    )

    def vector(
        name: str,
        document: bytes,
        expected: str,
        error: str | None = None,
        *,
        now: datetime = CHECKED,
        previous: bytes | None = earlier,
        pin: Any = NET_ROOT,
    ) -> None:
        entry: dict[str, Any] = {
            "name": name,
            "document": document.hex(),
            "pinned_fingerprint": fingerprint(pin),
            "previous": None if previous is None else previous.hex(),
            "now": iso(now),
            "expected": expected,
        }
        if error:
            entry["error"] = error
        out.append(entry)

    def refused(name: str, error: str, document: bytes, **kw: Any) -> None:
        vector(name, document, _CODES[error], error, **kw)

    def malformed(name: str, **changes: Any) -> None:
        refused(name, "MalformedError", directory(**changes))

    vector("valid directory", good, "valid")
    vector("valid directory, none accepted before", good, "valid", previous=None)
    vector("valid directory, the same one accepted before", good, "valid", previous=good)
    vector(
        "valid directory, dated five minutes ahead", good, "valid", now=IAT - timedelta(minutes=5)
    )
    vector(
        "valid directory, one second before it expires",
        good,
        "stale",
        now=EXP - timedelta(seconds=1),
    )
    vector("past next-update: accepted and reported stale", good, "stale", now=NEXT)
    vector(
        "valid directory with no member and no history",
        directory(members=[], history=[]),
        "valid",
        previous=None,
    )
    rotated = payload(NET_ROOT_2, end=[endorsement(NET_ROOT, NET_ROOT_2)])
    vector(
        "valid directory under a new root endorsed by the pinned one",
        sign(NET_ROOT_2, TYP, rotated),
        "valid",
    )
    readmitted = [
        *HISTORY,
        [ts(SUSPENDED), "TN TUN", "removed", "left the network"],
        [ts(IAT), "TN TUN", "admitted", "joined again"],
    ]
    vector(
        "valid directory: a member removed, then admitted again",
        directory(
            history=readmitted,
            members=[*MEMBERS[:2], member("TN TUN", TUN_ROOT, "Tunis", since=ts(IAT))],
        ),
        "valid",
    )

    # N1: the envelope
    refused("untagged COSE_Sign1", "MalformedError", sign(NET_ROOT, TYP, payload(), tag=None))
    refused("under tag 98 instead of 18", "MalformedError", sign(NET_ROOT, TYP, payload(), tag=98))
    refused(
        "another document type (issuer metadata)",
        "MalformedError",
        sign(NET_ROOT, "application/citycard-issuer+cbor", payload()),
    )
    refused(
        "alg is not EdDSA",
        "BadSignatureError",
        sign(NET_ROOT, TYP, payload(), header={1: -7, 4: _kid(NET_ROOT), 16: TYP}),
    )
    refused(
        "an extra protected header",
        "MalformedError",
        sign(NET_ROOT, TYP, payload(), header={1: -8, 4: _kid(NET_ROOT), 16: TYP, 3: 0}),
    )
    # N2: the payload
    refused(
        "payload not in deterministic encoding",
        "MalformedError",
        sign(NET_ROOT, TYP, payload(), canonical=False),
    )
    malformed("version 2", v=2)
    refused("a field missing (history)", "MalformedError", sign(NET_ROOT, TYP, _without("history")))
    malformed("an unknown field", ttl=86400)
    malformed("network code in lower case", net="migration-routes")
    malformed("network code of one character", net="M")
    malformed("a name that is not text", names={"en": 7})
    malformed("root of small order", root=WEAK_KEY)
    malformed("serial negative", serial=-1)
    malformed("endorsements not an array", end=5)
    malformed("an endorsement that is not a byte string", end=["not bytes"])
    malformed("members not an array", members={})
    malformed("next-update not after iat", next=ts(IAT))
    malformed("expiry before next-update", exp=ts(NEXT) - 1)
    malformed("members out of order", members=[MEMBERS[1], MEMBERS[0], MEMBERS[2]])
    malformed("a member listed twice", members=[MEMBERS[0], MEMBERS[0], MEMBERS[1], MEMBERS[2]])
    malformed("a member without since", members=[_drop(MEMBERS[0], "since"), *MEMBERS[1:]])
    malformed(
        "a member in state removed",
        members=[MEMBERS[0], MEMBERS[1], MEMBERS[2] | {"state": "removed"}],
    )
    malformed(
        "a member code that is not a UN/LOCODE", members=[MEMBERS[0] | {"iss": "SAO"}, *MEMBERS[1:]]
    )
    malformed(
        "a metadata URL that is not http(s)",
        members=[MEMBERS[0] | {"url": "ftp://cards.brsao.example/"}, *MEMBERS[1:]],
    )
    malformed(
        "a member root of small order", members=[MEMBERS[0] | {"root": WEAK_KEY}, *MEMBERS[1:]]
    )
    malformed(
        "an unknown history event",
        history=[*HISTORY[:3], [ts(SUSPENDED), "TN TUN", "paused", "dues"]],
    )
    malformed(
        "a history event of three items",
        history=[*HISTORY[:3], [ts(SUSPENDED), "TN TUN", "suspended"]],
    )
    malformed(
        "history not in time order",
        history=[[ts(ADMITTED) + 1, "BR SAO", "admitted", "founding member"], *HISTORY[1:]],
    )
    malformed(
        "a history event after iat",
        history=[*HISTORY[:3], [ts(IAT) + 1, "TN TUN", "suspended", "dues"]],
    )
    malformed(
        "a suspension without reason",
        history=[*HISTORY[:3], [ts(SUSPENDED), "TN TUN", "suspended", ""]],
    )
    malformed(
        "a reason with a control character",
        history=[*HISTORY[:3], [ts(SUSPENDED), "TN TUN", "suspended", "un\npaid"]],
    )
    malformed(
        "a reason with leading white space",
        history=[*HISTORY[:3], [ts(SUSPENDED), "TN TUN", "suspended", " unpaid dues"]],
    )
    malformed(
        "reinstating an active member",
        history=[*HISTORY, [ts(SUSPENDED), "BR SAO", "reinstated", ""]],
    )
    malformed(
        "admitting a member twice", history=[*HISTORY, [ts(SUSPENDED), "BR SAO", "admitted", ""]]
    )
    malformed("a member with no admission in the history", history=HISTORY[1:])
    malformed(
        "a member whose since is not its last event",
        members=[MEMBERS[0] | {"since": ts(IAT)}, *MEMBERS[1:]],
    )
    malformed(
        "a member whose state is not what the history says",
        members=[*MEMBERS[:2], MEMBERS[2] | {"state": "active"}],
    )
    malformed(
        "a removed member still listed",
        history=[*HISTORY, [ts(SUSPENDED), "TN TUN", "removed", "left"]],
    )
    # N3 to N5: who signed it
    refused(
        "signed by the pinned root, but its kid names another key",
        "BadSignatureError",
        sign(NET_ROOT, TYP, payload(), header={1: -8, 4: _kid(NET_IMPOSTOR), 16: TYP}),
    )
    refused(
        "the fingerprint pinned is another root's",
        "BadSignatureError",
        good,
        pin=NET_IMPOSTOR,
        previous=None,
    )
    refused(
        "an impostor's root, not endorsed by the pinned one",
        "BadSignatureError",
        sign(NET_IMPOSTOR, TYP, payload(NET_IMPOSTOR)),
    )
    refused(
        "a new root endorsed for another network",
        "BadSignatureError",
        sign(
            NET_ROOT_2,
            TYP,
            payload(NET_ROOT_2, end=[endorsement(NET_ROOT, NET_ROOT_2, "OTHER-NET")]),
        ),
    )
    refused(
        "a signature that does not verify",
        "BadSignatureError",
        sign(NET_ROOT, TYP, payload(), flip=True),
    )
    # N6 to N8: time and succession
    refused(
        "dated more than five minutes ahead",
        "NotYetValidError",
        good,
        now=IAT - timedelta(minutes=5, seconds=1),
    )
    refused("a serial lower than the one accepted", "RollbackError", earlier, previous=good)
    refused(
        "another directory under the serial accepted",
        "RollbackError",
        directory(names={"en": "Renamed"}),
        previous=good,
    )
    refused(
        "a history that rewrites the one accepted",
        "RollbackError",
        directory(
            serial=13,
            history=[*HISTORY[:2], [ts(ADMITTED), "TN TUN", "admitted", "rewritten"], HISTORY[3]],
        ),
        previous=good,
    )
    refused("expired: now is its exp", "ExpiredError", good, now=EXP)
    return out


def _kid(key: Any) -> bytes:
    from cardformat import key_id

    return key_id(key)


def _drop(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != name}


def _without(name: str) -> dict[str, Any]:
    return _drop(payload(), name)


def network_document() -> dict[str, Any]:
    return {
        "description": "Network directory vectors (docs/card-format.md section 9): verify the "
        "document against the pinned fingerprint at `now`, as the successor of `previous` (the "
        "directory accepted last, or null).",
        "generator": "tests/vectors/generate_cards.py",
        "schema": {
            "vectors": [
                {
                    "name": "what the vector tests",
                    "document": "hex: the bytes served at /.well-known/citycard/network",
                    "pinned_fingerprint": "the network root's fingerprint pinned",
                    "previous": "hex of the directory accepted last, or null",
                    "now": "RFC 3339 time: the verifier's current time",
                    "expected": "valid, stale (accepted, past next-update), malformed, "
                    "bad_signature, not_yet_valid, rollback or expired",
                    "error": "(refused) cardformat's error class",
                }
            ]
        },
        "vectors": network_vectors(),
    }
