"""Issue 6 item 5: `cardservice purge --all-residents --confirm CODE` erases everyone: every data
key in one key-store transaction, then every record in one resident-database transaction; issued
cards stay verifiable (checked with cardformat against the published, root-signed metadata and
status list); the audit log records it and stays intact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

import cardformat
from cardservice.models import AuditEntry, Card, Resident, ResidentKey, SigningKey, StatusListRecord
from cardservice.services.keys import root_fingerprint

from .helpers import NAME, auth, encodings, enrol, issue, stored_bytes


def _count(session: Any, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _fixed_state(session: Any) -> tuple[Any, ...]:
    keys = sorted(
        (k.kid, k.state, bytes(k.private_key_pem)) for k in session.scalars(select(SigningKey))
    )
    lists = sorted((s.id, bytes(s.lst)) for s in session.scalars(select(StatusListRecord)))
    return tuple(keys), tuple(lists)


def test_emergency_purge(app, client, runner, session, city, tokens) -> None:
    people = [
        enrol(client, tokens["clerk"], display_name=name)
        for name in (NAME, "Jonas Petraitis", "Mariam Touré")
    ]
    issued = [issue(client, tokens["clerk"], rid) for rid in people]
    revoked = issued[2]["number"]
    assert (
        client.post(
            f"/api/v1/cards/{revoked}/revoke",
            json={"reason": "lost"},
            headers=auth(tokens["supervisor"]),
        ).status_code
        == 200
    )
    session.remove()
    before = _fixed_state(session)
    entries_before = _count(session, AuditEntry)

    result = runner.invoke(args=["purge", "--all-residents", "--confirm", "FR SXB"])
    assert result.exit_code == 0, result.output
    assert "3 resident record(s) erased" in result.output
    session.remove()

    # Everyone is gone, at rest too, keys first; the cards' rows stay, linked to nobody.
    assert _count(session, ResidentKey) == 0
    assert _count(session, Resident) == 0
    assert _count(session, Card) == 3
    assert session.scalar(select(func.count()).where(Card.resident_id.is_not(None))) == 0
    raw = stored_bytes(app)
    keys_raw = stored_bytes(app, keystore=True)
    for needle in (NAME, "Petraitis", "Touré"):
        for encoded in encodings(needle):
            assert encoded not in raw and encoded not in keys_raw
    # Keys and status lists untouched, byte for byte.
    assert _fixed_state(session) == before

    # One audit entry for the whole purge (no per-resident trail to reconstruct), chain intact.
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert len(entries) == entries_before + 1
    assert (entries[-1].action, entries[-1].detail) == ("resident.purge_all", "count:3")
    assert entries[-1].actor == "system:purge-all"
    assert runner.invoke(args=["audit", "verify"]).output.strip() == "Audit log intact."

    # A partner's verifier: pin the root, verify the metadata, the card, then its status.
    now = datetime.now(UTC)
    meta = cardformat.verify_metadata(
        client.get("/.well-known/citycard/issuer").data,
        pinned_fingerprint=root_fingerprint(session),
        now=now,
    )
    trusted = {key.kid: key for key in meta.trusted_keys()}
    for card in issued:
        verified = cardformat.verify_card(card["qr"], resolve_key=trusted.get, now=now)
        assert verified.card.number == card["number"]
        ref, position = meta.status_list_ref(verified.card.status_index)
        response = client.get(urlsplit(ref.uri).path)
        assert response.status_code == 200
        status_list = cardformat.verify_status_list(
            response.data, resolve_key=trusted.get, now=now, expected_uri=ref.uri
        ).status_list
        expected = cardformat.Status.REVOKED if card["number"] == revoked else 0
        assert status_list.get(position) == expected, card["number"]
    # The holder's name is still on the card itself (that is the point), not in the database.
    assert verified.card.holder_name == "Mariam Touré"


def test_emergency_purge_interrupted_after_the_keys_leaves_nothing_readable(
    app, client, session, deps, city, tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys go first, in one key-store transaction. A failure after that commit (here: the
    audit entry, the resident-database transaction's last step) leaves the records in place but
    keyless, so no one can read them; running the purge again finishes it and writes the one
    audit entry."""
    from cardservice.services import Actor, audit
    from cardservice.services.residents import purge_all_residents

    people = [enrol(client, tokens["clerk"], display_name=f"Person {i}") for i in range(4)]
    for rid in people:
        issue(client, tokens["clerk"], rid)
    session.remove()

    def broken_record(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record", broken_record)
    with pytest.raises(RuntimeError, match="disk full"):
        purge_all_residents(
            session,
            deps,
            city_code="FR SXB",
            confirm="FR SXB",
            now=datetime.now(UTC),
            actor=Actor.system("tests"),
        )
    session.rollback()
    session.remove()
    # The resident-database transaction rolled back as a whole; the key-store one had committed.
    assert _count(session, Resident) == 4
    assert session.scalar(select(func.count()).where(Card.resident_id.is_not(None))) == 4
    assert _count(session, ResidentKey) == 0
    for rid in people:
        page = client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"]))
        assert page.status_code == 404
    assert not any(e.action == "resident.purge_all" for e in session.scalars(select(AuditEntry)))

    monkeypatch.undo()
    assert (
        purge_all_residents(
            session,
            deps,
            city_code="FR SXB",
            confirm="fr sxb",
            now=datetime.now(UTC),
            actor=Actor.system("tests"),
        )
        == 4
    )
    assert _count(session, Resident) == 0
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (last.action, last.detail) == ("resident.purge_all", "count:4")
