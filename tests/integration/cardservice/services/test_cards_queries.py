"""services.cards.queries: what a card's status reads as, which cards are live, and which cards
a revoked signing key leaves to reprint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cardservice.models import Card
from cardservice.services import cards, keys, residents

from ..conftest import NOW, enrolment


def _card(session: Any, deps: Any, actor: Any, name: str) -> Card:
    rid = residents.enrol_resident(
        session, deps, enrolment(display_name=name), now=NOW, actor=actor
    ).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    return cards.get_card(session, number)


def test_a_valid_card_past_its_expiry_reads_as_expired(session, deps, actor, city) -> None:
    card = _card(session, deps, actor, "Amira Haddad")
    assert cards.display_status(card, NOW) == "valid"
    assert cards.display_status(card, card.expires_at - timedelta(seconds=1)) == "valid"
    assert cards.display_status(card, card.expires_at) == "expired"
    # The stored status does not change: expiry needs no status-list update.
    assert card.status == "valid"
    cards.suspend_card(session, deps, card.number, reason="investigation", now=NOW, actor=actor)
    later = card.expires_at + timedelta(days=1)
    assert cards.display_status(card, later) == "suspended"
    cards.revoke_card(session, deps, card.number, reason="lost", now=NOW, actor=actor)
    assert cards.display_status(card, NOW) == cards.display_status(card, later) == "revoked"


def test_is_live_says_what_the_one_live_card_rule_counts(session, deps, actor, city) -> None:
    card = _card(session, deps, actor, "Amira Haddad")
    rid = card.resident_id
    assert rid is not None
    after_expiry = card.expires_at + timedelta(seconds=1)
    for moment, live in ((NOW, True), (card.expires_at, False), (after_expiry, False)):
        assert cards.is_live(card, moment) is live
        assert cards.has_live_card(session, rid, moment) is live
    cards.suspend_card(session, deps, card.number, reason="investigation", now=NOW, actor=actor)
    # A suspended card still blocks a new issue: reinstate or replace it instead.
    assert cards.is_live(card, NOW) and cards.has_live_card(session, rid, NOW)
    cards.revoke_card(session, deps, card.number, reason="lost", now=NOW, actor=actor)
    assert not cards.is_live(card, NOW) and not cards.has_live_card(session, rid, NOW)


def test_cards_to_reissue_are_the_live_cards_the_key_signed(session, deps, actor, city) -> None:
    kid = keys.list_keys(session)[0].kid
    valid = _card(session, deps, actor, "Amira Haddad")
    suspended = _card(session, deps, actor, "Li Wei")
    revoked = _card(session, deps, actor, "Jean Dupont")
    expired = _card(session, deps, actor, "Ana Souza")
    cards.suspend_card(
        session, deps, suspended.number, reason="investigation", now=NOW, actor=actor
    )
    cards.revoke_card(session, deps, revoked.number, reason="stolen", now=NOW, actor=actor)
    # An expired card fails verification anyway: reprinting it would hand out a dead card.
    expired.expires_at = NOW - timedelta(days=1)
    session.commit()
    # Signed by another key since: its printed token does not depend on the revoked one.
    keys.rotate_signing_key(session, deps, now=NOW, actor=actor)
    resigned = _card(session, deps, actor, "Fatou Diop")
    assert resigned.kid != kid

    expected = sorted([valid.number, suspended.number])
    assert cards.cards_to_reissue(session, kid, now=NOW) == expected
    # The day the valid cards expire too, nothing is left to reprint.
    assert cards.cards_to_reissue(session, kid, now=valid.expires_at) == []
    assert cards.cards_to_reissue(session, resigned.kid, now=NOW) == [resigned.number]
