"""services.cards: issuance and the lifecycle of a card, status list included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

import cardformat
from cardservice.models import AuditEntry, Card
from cardservice.services import cards, residents
from cardservice.services.audit import verify_chain
from cardservice.services.errors import (
    ConflictError,
    ValidationError,
)

from ..conftest import NOW, enrolment
from .helpers import status_of


def test_one_live_card_per_resident(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    with pytest.raises(ConflictError) as info:
        cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    assert info.value.code == "card_exists"


def test_lifecycle_updates_status_list(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    assert status_of(session, number) == cardformat.Status.VALID

    cards.suspend_card(session, deps, number, reason="investigation", now=NOW, actor=actor)
    assert status_of(session, number) == cardformat.Status.SUSPENDED
    with pytest.raises(ConflictError):
        cards.print_card(session, deps, number, now=NOW, actor=actor)

    cards.reinstate_card(session, deps, number, now=NOW, actor=actor)
    assert status_of(session, number) == cardformat.Status.VALID

    with pytest.raises(ValidationError):
        cards.revoke_card(session, deps, number, reason="", now=NOW, actor=actor)
    with pytest.raises(ValidationError):
        cards.revoke_card(session, deps, number, reason="because I said so", now=NOW, actor=actor)
    cards.revoke_card(session, deps, number, reason="fraud", now=NOW, actor=actor)
    assert status_of(session, number) == cardformat.Status.REVOKED
    with pytest.raises(ConflictError):
        cards.reinstate_card(session, deps, number, now=NOW, actor=actor)
    with pytest.raises(ConflictError):
        cards.revoke_card(session, deps, number, reason="fraud", now=NOW, actor=actor)
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["card.suspend", "card.reinstate", "card.revoke"]


def test_replace_revokes_old_and_issues_new_number(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    later = NOW + timedelta(days=30)
    new = cards.replace_card(session, deps, old.number, reason="stolen", now=later, actor=actor)
    assert new.number != old.number
    assert cards.get_card(session, old.number).status == "revoked"
    assert cards.get_card(session, old.number).status_reason == "stolen"
    assert cards.get_card(session, new.number).status == "valid"
    assert status_of(session, old.number) == cardformat.Status.REVOKED
    with pytest.raises(ValidationError):
        cards.replace_card(session, deps, new.number, reason="bored", now=later, actor=actor)


def test_renew_only_within_window(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    with pytest.raises(ConflictError) as info:
        cards.renew_card(session, deps, issued.number, now=NOW, actor=actor)
    assert info.value.code == "renewal_too_early"
    near_expiry = issued.expires_at - timedelta(days=30)
    renewed = cards.renew_card(session, deps, issued.number, now=near_expiry, actor=actor)
    assert renewed.number == issued.number
    assert renewed.expires_at.date() == (near_expiry.replace(year=near_expiry.year + 5)).date()


def test_concurrent_revocations_lose_no_update(app, session, deps, actor, city) -> None:
    """Several workers revoking different cards at once: every bit lands in the status list
    (row locks on PostgreSQL, immediate transactions on SQLite), none fails."""
    import threading

    from cardservice.extensions import db

    numbers = []
    for i in range(6):
        rid = residents.enrol_resident(
            session, deps, enrolment(display_name=f"Person {i}", photo=None), now=NOW, actor=actor
        ).resident_id
        numbers.append(cards.issue_card(session, deps, rid, now=NOW, actor=actor).number)
    session.remove()
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(numbers))

    def revoke(number: str) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                cards.revoke_card(db.session, deps, number, reason="lost", now=NOW, actor=actor)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=revoke, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for number in numbers:
        assert status_of(session, number) == cardformat.Status.REVOKED
    assert verify_chain(session) == []


def test_concurrent_issue_gives_one_card(app, session, deps, actor, city) -> None:
    """Two clerks (or one double click) issuing for the same resident at once: one card."""
    import threading

    from cardservice.extensions import db
    from cardservice.services.errors import ServiceError

    rid = residents.enrol_resident(
        session, deps, enrolment(photo=None), now=NOW, actor=actor
    ).resident_id
    session.remove()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def issue() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                cards.issue_card(db.session, deps, rid, now=NOW, actor=actor)
                outcomes.append("issued")
            except ServiceError as exc:
                outcomes.append(exc.code)
            except BaseException as exc:  # anything else is a failure of the test
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["card_exists"] * 3 + ["issued"]
    assert session.scalar(select(func.count()).select_from(Card)) == 1


@pytest.mark.parametrize("start", ["valid", "suspended", "revoked"])
@pytest.mark.parametrize("to", ["valid", "suspended", "revoked"])
def test_one_table_says_which_status_changes_a_card_allows(
    session, deps, actor, city, start: str, to: str
) -> None:
    from cardservice.services.cards.status import TRANSITIONS, change_status

    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    if start != "valid":
        cards.suspend_card(session, deps, number, reason="investigation", now=NOW, actor=actor)
    if start == "revoked":
        cards.revoke_card(session, deps, number, reason="fraud", now=NOW, actor=actor)
    card = cards.get_card(session, number, for_update=True)
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    if (start, to) in TRANSITIONS:
        change_status(session, card, to, reason="other", now=NOW, actor=actor)
        session.commit()
        assert card.status == to and status_of(session, number) == {
            "valid": 0, "revoked": 1, "suspended": 2
        }[to]  # fmt: skip
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and last.action == TRANSITIONS[(start, to)]
    else:
        with pytest.raises(ConflictError) as refused:
            change_status(session, card, to, reason="other", now=NOW, actor=actor)
        assert refused.value.code in {"card_not_valid", "card_not_suspended", "card_revoked"}
        session.rollback()
        assert cards.get_card(session, number).status == start
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    # A revoked card never changes again; the table allows nothing out of "revoked".
    assert not any(source == "revoked" for source, _ in TRANSITIONS)
