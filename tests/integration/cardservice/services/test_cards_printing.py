"""services.cards.printing: a reprint is signed again with the current key."""

from __future__ import annotations

from datetime import timedelta

import cardformat
from cardservice.services import cards, keys, residents

from ..conftest import NOW, enrolment
from .helpers import resolver


def test_reprint_resigns_with_current_key(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    new_key = keys.rotate_signing_key(session, deps, now=NOW + timedelta(days=1), actor=actor)
    printable = cards.print_card(
        session, deps, issued.number, now=NOW + timedelta(days=2), actor=actor, reprint=True
    )
    assert printable.number == issued.number
    assert printable.expires == issued.expires_at.date()
    assert printable.holder_name == "Amira Haddad"
    assert printable.city_name == "Strasbourg"
    verified = cardformat.verify_card(
        printable.qr_text, resolve_key=resolver(session), now=NOW + timedelta(days=2)
    )
    assert verified.kid.hex() == new_key.kid
    assert cards.get_card(session, issued.number).kid == new_key.kid
