"""services.residents.retention: who is past the retention period, and the purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from cardservice.models import Resident
from cardservice.services import cards, residents

from ..conftest import NOW, enrolment


def test_retention_candidates(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    never_issued = residents.enrol_resident(
        session, deps, enrolment(display_name="Li Wei"), now=NOW, actor=actor
    ).resident_id
    assert residents.retention_candidates(session, deps, now=NOW) == []
    after_grace = issued.expires_at + timedelta(days=400)
    found = residents.retention_candidates(session, deps, now=after_grace)
    assert {c.resident_id for c in found} == {rid, never_issued}
    assert residents.purge_expired(session, deps, now=after_grace, actor=actor) == 2
    assert session.scalar(select(func.count()).select_from(Resident)) == 0
    assert cards.get_card(session, issued.number).resident_id is None


def test_retention_purge_spares_a_resident_issued_a_card_after_the_list_was_read(
    session, deps, actor, city, monkeypatch
) -> None:
    """The purge judges each candidate again under its lock before destroying a key: a card
    issued between the listing and the purge keeps its holder's record readable."""
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    first = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    after_grace = first.expires_at + timedelta(days=400)
    stale = residents.retention_candidates(session, deps, now=after_grace)
    assert [c.resident_id for c in stale] == [rid]
    # The resident comes back for a new card after the purge listed them.
    renewed = cards.issue_card(session, deps, rid, now=after_grace, actor=actor)
    monkeypatch.setattr(residents, "retention_candidates", lambda *_a, **_k: stale)
    assert residents.purge_expired(session, deps, now=after_grace, actor=actor) == 0
    assert residents.get_resident(session, deps, rid).display_name == enrolment().display_name
    assert cards.get_card(session, renewed.number).resident_id == rid
