"""services.erasure: erasure on request."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import cardformat
from cardservice.models import Resident, ResidentKey
from cardservice.services import cards, erasure, residents
from cardservice.services.errors import (
    ConflictError,
    NotFoundError,
)

from ..conftest import NOW, enrolment
from .helpers import status_of


def test_erasure_revokes_cards_and_destroys_data(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    wrapped = session.get(ResidentKey, rid).wrapped_data_key
    assert erasure.erase_resident(session, deps, rid, now=NOW, actor=actor) == [number]
    assert session.get(Resident, rid) is None
    card = cards.get_card(session, number)
    assert card.status == "revoked" and card.status_reason == "holder_request"
    assert card.resident_id is None
    assert status_of(session, number) == cardformat.Status.REVOKED
    with pytest.raises(NotFoundError):
        residents.get_resident(session, deps, rid)
    with pytest.raises(ConflictError):
        cards.print_card(session, deps, number, now=NOW, actor=actor)
    # Nothing anywhere still holds the wrapped key: the key store had its only copy.
    assert session.get(ResidentKey, rid) is None
    assert session.scalar(select(func.count()).where(ResidentKey.wrapped_data_key == wrapped)) == 0
