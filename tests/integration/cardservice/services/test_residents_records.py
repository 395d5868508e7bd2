"""services.residents.records: enrol, read back, correct, duplicates, not found."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import cardformat
from cardservice.models import Resident, ResidentKey
from cardservice.services import cards, residents
from cardservice.services.errors import (
    NotFoundError,
    ValidationError,
)

from ..conftest import NOW, enrolment
from .helpers import resolver


def test_enrol_issue_and_verify_token(session, deps, actor, city) -> None:
    result = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    assert result.points.by_kind == {"identity": 3, "residence": 1}
    assert result.possible_duplicates == []
    issued = cards.issue_card(session, deps, result.resident_id, now=NOW, actor=actor)
    assert issued.qr.startswith("MC1:")
    assert issued.expires_at.date() == date(2031, 3, 2)
    verified = cardformat.verify_card(issued.qr, resolve_key=resolver(session), now=NOW)
    assert verified.card.holder_name == "Amira Haddad"
    assert verified.card.birth_date == date(1990, 4, 17)
    assert verified.card.number == issued.number
    assert verified.issuer == "FR SXB"
    card = cards.get_card(session, issued.number.lower().replace("-", ""))
    assert card.status == "valid" and card.resident_id == result.resident_id
    assert 0 <= card.status_index < 131072


def test_resident_view_round_trips_encrypted_fields(session, deps, actor, city) -> None:
    result = residents.enrol_resident(
        session, deps, enrolment(gender_marker=None, address=None), now=NOW, actor=actor
    )
    view = residents.get_resident(session, deps, result.resident_id)
    assert view.display_name == "Amira Haddad"
    assert view.gender_marker is None and view.address is None
    assert view.preferred_language == "ar"
    assert view.photo is not None and view.photo.startswith(b"\xff\xd8")


def test_duplicate_flagged_not_blocked(session, deps, actor, city) -> None:
    first = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    second = residents.enrol_resident(
        session, deps, enrolment(display_name="amira  HADDAD"), now=NOW, actor=actor
    )
    assert second.possible_duplicates == [first.resident_id]
    found = residents.find_residents(
        session, deps, display_name="AMIRA haddad", birth_date=date(1990, 4, 17)
    )
    assert {v.id for v in found} == {first.resident_id, second.resident_id}
    assert (
        residents.find_residents(
            session, deps, display_name="Amira Haddad", birth_date=date(1990, 4, 18)
        )
        == []
    )


def test_unknown_numbers_and_ids_are_not_found(session, deps, city) -> None:
    for number in ("", "ZZZZ-ZZZ", "x" * 500, None, 12):
        with pytest.raises(NotFoundError):
            cards.get_card(session, number)
    for rid in ("", "0" * 32, "../etc/passwd", None):
        with pytest.raises(NotFoundError):
            residents.get_resident(session, deps, rid)


def test_update_resident_reseals_and_reindexes(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old = session.get(Resident, rid)
    old_ciphertext, old_index = old.ciphertext, old.blind_index
    old_key = session.get(ResidentKey, rid).wrapped_data_key
    residents.update_resident(
        session,
        deps,
        rid,
        enrolment(display_name="Amira Haddad-Khoury", photo=None, address=None),
        now=NOW + timedelta(days=1),
        actor=actor,
    )
    view = residents.get_resident(session, deps, rid)
    assert view.display_name == "Amira Haddad-Khoury" and view.address is None
    assert view.photo is not None  # no new photo: the current one is kept
    updated = session.get(Resident, rid)
    # Re-encrypted (fresh nonce) under the same data key: a correction touches the resident
    # database only, so it never needs a commit in both databases.
    assert updated.ciphertext != old_ciphertext
    assert session.get(ResidentKey, rid).wrapped_data_key == old_key
    assert updated.blind_index != old_index
    assert [
        v.id
        for v in residents.find_residents(
            session, deps, display_name="amira haddad-khoury", birth_date=date(1990, 4, 17)
        )
    ] == [rid]
    with pytest.raises(ValidationError):
        residents.update_resident(
            session, deps, rid, enrolment(display_name=""), now=NOW, actor=actor
        )
    assert residents.get_resident(session, deps, rid).display_name == "Amira Haddad-Khoury"
