"""The in-browser verifier agrees with the server, the reference, on every card.

Every card-format vector (tests/vectors/cards.json) and a set of cards made here with
cardformat (statuses, staleness, forgeries, scripts) goes through POST /api/v1/verify and through
the page's own verifier (static/verify.js, in Chromium, with WebCrypto Ed25519), at the same
instant and against the same trust snapshot: the answers must be identical.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest

from cardformat import MIN_STATUS_LIST_SIZE, Status, generate_key
from cardformat.base45 import b45decode, b45encode
from tests.fake_city import pinned_city_record, published_key, published_vector_key
from verifier import create_app
from verifier.trust import TrustStore

from .agent_support import FakeIssuer, LiveServer, forge

pytestmark = pytest.mark.e2e

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "cards.json"
ANSWER_KEYS = {"result", "valid", "issuer", "card", "holder", "status_checked_at"}

# One page load verifies a whole batch: the snapshot is prepared once, as on a real device.
VERIFY_BATCH = """
async ({snapshot, cases}) => {
  const trust = await window.citycardAgent.prepare(snapshot);
  const out = [];
  for (const c of cases) {
    out.push(await window.citycardAgent.verify(c.text, trust, {
      now: c.now, lang: "en", defaultLang: "en",
    }));
  }
  return out;
}
"""


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _vector_trust_store(instance: Path, doc: dict[str, Any], at: datetime) -> None:
    """Pin every issuer the vectors name, publishing exactly the vectors' keys and states.

    The vectors carry public keys only, so each issuer gets a root made here, and its status
    list is signed by one more signing key made here (published with the others): the cards'
    own keys are used for nothing but verifying cards.
    """
    by_issuer: dict[str, list[dict[str, Any]]] = {}
    for key in doc["keys"]:
        by_issuer.setdefault(key["issuer"], []).append(key)
    with TrustStore(instance).transaction() as records:
        for code, keys in by_issuer.items():
            lister = generate_key()
            published = [published_vector_key(k) for k in keys]
            since = max(datetime.fromtimestamp(0, UTC), at - timedelta(days=2000))
            published.append(published_key(lister, not_before=since))
            records[code] = pinned_city_record(
                code=code,
                names={"en": keys[0]["issuer_name"]},
                keys=published,
                base_url=f"https://{code.replace(' ', '').lower()}.example",
                status_list_signer=lister,
                metadata_issued_at=at,
                at=at,
            )


class Clock:
    """The server's injectable clock, moved to each case's instant."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _server_answers(app: Any, clock: Clock, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    client = app.test_client()
    answers = []
    for case in cases:
        clock.now = datetime.fromtimestamp(case["now"], UTC)
        response = client.post(
            "/api/v1/verify", json={"qr": case["text"]}, headers={"Accept-Language": "en"}
        )
        assert response.status_code == 200, case["name"]
        body = response.get_json()
        assert set(body) == ANSWER_KEYS | {"message"}
        answers.append({k: body[k] for k in ANSWER_KEYS})
    return answers


@pytest.fixture
def parity(page: Any) -> Iterator[Callable[[Path, Clock, list[dict[str, Any]]], list[Any]]]:
    """Compare server and browser on cases [{name, text, now (seconds)}] for one instance;
    returns the (identical) answers."""
    servers: list[LiveServer] = []

    def _check(instance: Path, clock: Clock, cases: list[dict[str, Any]]) -> list[Any]:
        app = create_app(
            {
                "INSTANCE_PATH": str(instance),
                "ENV": "testing",
                "SECRET_KEY": "parity",
                "RATELIMIT_ENABLED": False,
                "DEFAULT_LANGUAGE": "en",
                "CLOCK": clock,
            }
        )
        server = LiveServer(app)
        servers.append(server)
        page.goto(server.url)
        # Let the service worker finish downloading the page's files before the server can be
        # stopped (see open_page in test_agent_page.py).
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        snapshot = app.test_client().get("/api/v1/trust-snapshot").get_json()
        browser = page.evaluate(VERIFY_BATCH, {"snapshot": snapshot, "cases": cases})
        reference = _server_answers(app, clock, cases)
        mismatches = [
            (case["name"], ref, got)
            for case, ref, got in zip(cases, reference, browser, strict=True)
            if ref != got
        ]
        assert not mismatches, json.dumps(mismatches, indent=1, ensure_ascii=False)
        return reference

    yield _check
    for server in servers:
        server.stop()


def test_every_card_format_vector_gets_the_same_verdict(tmp_path, parity) -> None:
    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert len(doc["vectors"]) >= 10
    # Every vector is checked at its own instant, against a trust store fetched an hour before
    # it (never after: a clock earlier than the last fetch is a clock in doubt). So the status
    # list is fresh for every card that gets as far as the status check.
    epoch = datetime.fromtimestamp(0, UTC)
    instants = sorted({v["now"] for v in doc["vectors"]})
    answers: dict[str, dict[str, Any]] = {}
    for number, instant in enumerate(instants):
        at = _time(instant)
        instance = tmp_path / f"vectors-{number}"
        _vector_trust_store(instance, doc, max(epoch, at - timedelta(hours=1)))
        group = [v for v in doc["vectors"] if v["now"] == instant]
        cases = [{"name": v["name"], "text": v["text"], "now": at.timestamp()} for v in group]
        for vector, answer in zip(group, parity(instance, Clock(at), cases), strict=True):
            answers[vector["name"]] = answer
    assert len(answers) == len(doc["vectors"])
    # And both agree with the vectors themselves. A card that verifies shows its holder; its
    # status depends on the one list published (index below its size, fresh at its instant),
    # and the status decisions have vectors of their own (tests/integration/conformance).
    for vector in doc["vectors"]:
        answer = answers[vector["name"]]
        if vector["expected"] != "valid":
            assert answer["result"] == vector["expected"], vector["name"]
            assert answer["holder"] is None, vector["name"]
        else:
            assert answer["result"] in {"valid", "status_unknown"}, vector["name"]
            claims = vector["claims"]
            assert answer["holder"] == {
                "name": claims["holder_name"],
                "birth_date": claims["birth_date"],
            }
            assert answer["card"]["number"] == claims["number"]


def test_cards_made_here_get_the_same_verdict(tmp_path, parity) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    issuer = FakeIssuer()
    earlier = now - timedelta(days=30)
    cases: list[dict[str, Any]] = []

    def add(name: str, text: str, expected: str, at: datetime = now) -> None:
        cases.append({"name": name, "text": text, "now": at.timestamp(), "expected": expected})

    valid = issuer.card(now=earlier)
    add("valid", valid, "valid")
    add("no birth date", issuer.card(now=earlier, birth_date=None), "valid")
    add("Arabic name", issuer.card(now=earlier, name="فاطمة الزهراء"), "valid")
    add("old birth date", issuer.card(now=earlier, birth_date=date(1931, 2, 28)), "valid")
    add("revoked", issuer.card(now=earlier, status=Status.REVOKED), "revoked")
    add("suspended", issuer.card(now=earlier, status=Status.SUSPENDED), "suspended")
    three = issuer.card(now=earlier)
    issuer.statuses.set(issuer.next_index - 7, 3)  # a value the profile gives no meaning
    add("status value 3", three, "status_unknown")
    add("expired", issuer.card(now=earlier, valid_for=timedelta(days=10)), "expired")
    add("not yet valid", issuer.card(now=now + timedelta(hours=2)), "not_yet_valid")
    add("within clock skew", issuer.card(now=now + timedelta(minutes=4)), "valid")
    add("forged name", forge(valid, old="Amina", new="Amira"), "bad_signature")
    add("unknown issuer", FakeIssuer(code="ES BCN").card(now=earlier), "unknown_issuer")
    add("not a card", "https://example.org/", "malformed")
    add("empty", "", "malformed")
    add("too long", "MC1:" + "A" * 600, "malformed")
    add("trailing space", valid + " ", "malformed")
    # Staleness: the same valid card once the list is older than the policy allows.
    add("stale status list", valid, "status_unknown", now + timedelta(days=8))
    # A clock set back before the trust store's last fetch (an hour ago) cannot judge time:
    # what rests on it becomes clock_in_doubt; what does not is still reported.
    back = now - timedelta(days=2)
    add("clock set back: valid card", valid, "clock_in_doubt", back)
    short = issuer.card(now=earlier, valid_for=timedelta(days=29))  # expired yesterday
    add("clock set back: expired card", short, "clock_in_doubt", back)
    revoked = next(case["text"] for case in cases if case["name"] == "revoked")
    add("clock set back: revoked card", revoked, "revoked", back)
    add(
        "clock set back: forged card", forge(valid, old="Amina", new="Amira"), "bad_signature", back
    )
    add("clock set back: not a card", "https://example.org/", "malformed", back)
    add("clock within the skew of the fetch", valid, "valid", now - timedelta(hours=1, minutes=4))
    # A status index in a list the issuer does not publish.
    issuer.next_index = MIN_STATUS_LIST_SIZE + 5
    unlisted = issuer.card(now=earlier)
    add("index in an unpublished list", unlisted, "status_unknown")

    instance = tmp_path / "made"
    issuer.install(instance, now=now - timedelta(hours=1))
    answers = parity(instance, Clock(now), cases)
    for case, answer in zip(cases, answers, strict=True):
        assert answer["result"] == case["expected"], case["name"]


def test_damaged_cards_get_the_same_verdict(tmp_path, parity) -> None:
    """Every single-byte change, and a set of cuts and insertions, of a real card's bytes.

    A scanner misreads, a forger edits: whatever the bytes, both verifiers must agree, down to
    which step refuses them (malformed, unknown key, bad signature, ...).
    """
    now = datetime.now(UTC).replace(microsecond=0)
    issuer = FakeIssuer()
    text = issuer.card(now=now - timedelta(days=1), name="Zoë Ñúñez")
    raw = b45decode(text.removeprefix("MC1:"))
    rng = random.Random(20261126)
    variants: list[tuple[str, bytes]] = []
    for position in range(len(raw)):
        damaged = bytearray(raw)
        damaged[position] ^= 1 << rng.randrange(8)
        variants.append((f"bit flip at {position}", bytes(damaged)))
        other = bytearray(raw)
        other[position] = rng.choice([0x00, 0x18, 0x40, 0x5F, 0x80, 0xA0, 0xBF, 0xD8, 0xF6, 0xFF])
        variants.append((f"byte {other[position]:#x} at {position}", bytes(other)))
    for cut in (1, 2, 5, 20, 64, 65, len(raw) - 1):
        variants.append((f"last {cut} bytes cut", raw[:-cut]))
        variants.append((f"first {cut} bytes cut", raw[cut:]))
    for position in (0, 1, 2, 3, 17, len(raw) - 64, len(raw) - 1):
        variants.append((f"byte inserted at {position}", raw[:position] + b"\x00" + raw[position:]))
    variants.append(("trailing byte", raw + b"\x00"))
    cases = [
        {"name": name, "text": "MC1:" + b45encode(data), "now": now.timestamp()}
        for name, data in variants
    ]
    instance = tmp_path / "damaged"
    issuer.install(instance, now=now - timedelta(hours=1))
    answers = parity(instance, Clock(now), cases)
    results = {answer["result"] for answer in answers}
    # The damage reaches every step: structure, key lookup and signature.
    assert {"malformed", "unknown_issuer", "bad_signature"} <= results


def test_crafted_tokens_get_the_same_verdict(tmp_path, parity) -> None:
    """Tokens properly signed by a trusted key but breaking one rule of the format each, so
    the refusal comes from the late steps (header profile, claims), where order matters."""
    now = datetime.now(UTC).replace(microsecond=0)
    issuer = FakeIssuer()
    key, kid = issuer.signing, issuer.kid
    iat, exp = (
        int((now - timedelta(days=1)).timestamp()),
        int((now + timedelta(days=9)).timestamp()),
    )
    card = [123_456, "Amina Haddad", cbor2.CBORTag(100, 7000), 1003]

    # Claims keys in deterministic order: iss, exp, iat, card (what sign_card writes).
    ordered: dict[int, Any] = {1: issuer.code, 4: exp, 6: iat, -65537: list(card)}

    def token(
        payload: Any, header: bytes | None = None, unprotected: dict[Any, Any] | None = None
    ) -> str:
        body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
        protected = header if header is not None else cbor2.dumps({1: -8, 4: kid})
        signature = key.sign(cbor2.dumps(["Signature1", protected, b"", body]))
        data = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected or {}, body, signature]))
        return "MC1:" + b45encode(data)

    cases = {
        "control: well-formed": (token(ordered), "valid"),
        "header keys reversed": (token(ordered, cbor2.dumps({4: kid, 1: -8})), "malformed"),
        "ES256 in a reversed header": (
            token(ordered, cbor2.dumps({4: kid, 1: -7})),
            "bad_signature",
        ),
        "header with trailing byte": (
            token(ordered, cbor2.dumps({1: -8, 4: kid}) + b"\x00"),
            "malformed",
        ),
        "empty protected header": (token(ordered, b""), "malformed"),
        "unprotected kid": (token(ordered, unprotected={4: kid}), "malformed"),
        "claims in another order": (
            token({6: iat, 1: issuer.code, 4: exp, -65537: card}),
            "malformed",
        ),
        "claims with a trailing byte": (token(cbor2.dumps(ordered) + b"\x00"), "malformed"),
        "birth date as tag 1004": (
            token(ordered | {-65537: [*card[:2], cbor2.CBORTag(1004, "1989-03-01"), card[3]]}),
            "malformed",
        ),
        "birth date as plain integer": (
            token(ordered | {-65537: [*card[:2], 7000, card[3]]}),
            "malformed",
        ),
        "name with a trailing space": (
            token(ordered | {-65537: [card[0], "Amina ", *card[2:]]}),
            "malformed",
        ),
        "name with a right-to-left override": (
            token(ordered | {-65537: [card[0], "Amina \u202eHaddad", *card[2:]]}),
            "malformed",
        ),
        "name of 101 bytes": (
            token(ordered | {-65537: [card[0], "A" * 101, *card[2:]]}),
            "malformed",
        ),
        "card number beyond 30 bits": (token(ordered | {-65537: [2**30, *card[1:]]}), "malformed"),
        "status index beyond 32 bits": (
            token(ordered | {-65537: [*card[:3], 2**32]}),
            "malformed",
        ),
        "negative status index": (token(ordered | {-65537: [*card[:3], -1]}), "malformed"),
        "expiry at issue": (token(ordered | {4: iat}), "malformed"),
        # Every NumericDate is at most 2^32 - 1 (docs/card-format.md section 2.1).
        "expiry at 2^32": (token(ordered | {4: 2**32}), "malformed"),
        "expiry at 2^32 - 1": (token(ordered | {4: 2**32 - 1}), "valid"),
        "expiry in year 9999": (token(ordered | {4: 253_402_300_799}), "malformed"),
        "issuer code in lower case": (token(ordered | {1: "fr sxb"}), "malformed"),
        "another issuer's code": (token(ordered | {1: "ES BCN"}), "bad_signature"),
        "extra claim": (token(ordered | {7: b"x"}), "malformed"),
        "not a map": (token([issuer.code, exp, iat, card]), "malformed"),
    }
    cases_list = [
        {"name": name, "text": text, "now": now.timestamp(), "expected": expected}
        for name, (text, expected) in cases.items()
    ]
    instance = tmp_path / "crafted"
    issuer.install(instance, now=now - timedelta(hours=1))
    answers = parity(instance, Clock(now), cases_list)
    for case, answer in zip(cases_list, answers, strict=True):
        assert answer["result"] == case["expected"], case["name"]
