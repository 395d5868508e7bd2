"""services.audit: the hash chain, and what an entry may carry."""

from __future__ import annotations

from sqlalchemy import select

from cardservice.models import AuditEntry
from cardservice.services import cards, residents
from cardservice.services.audit import verify_chain

from ..conftest import NOW, enrolment


def test_audit_chain_detects_tampering(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    cards.revoke_card(session, deps, number, reason="lost", now=NOW, actor=actor)
    assert verify_chain(session) == []
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "card.issue")).one()
    entry.actor = "staff:999"
    session.commit()
    problems = verify_chain(session)
    assert [(p.entry_id, p.problem) for p in problems] == [(entry.id, "edited")]


def test_audit_chain_detects_deletion(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.enrol")).one()
    session.delete(entry)
    session.commit()
    assert any(p.problem == "broken_link" for p in verify_chain(session))


def test_audit_carries_no_personal_data(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    for entry in session.scalars(select(AuditEntry)):
        text = " ".join(str(v) for v in (entry.actor, entry.action, entry.subject, entry.detail))
        assert "Amira" not in text and "1990" not in text and "Fleurs" not in text
