"""Search and duplicates insensitive to case, accents and punctuation (issue #17, item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from cardservice.models import AuditEntry, Resident
from cardservice.services import residents
from cardservice.services.duplicates import PossibleDuplicateError
from cardservice.services.errors import ValidationError
from cardservice.services.namefold import FOLDING_VERSION, fold_name, same_name
from cardservice.services.reindex import reindex_residents

from .conftest import NOW, enrolment

ZOE = "Zoé Ngọc Lâm-Dubois"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("zoe ngoc lam-dubois", ZOE),
        ("ZOE  NGOC LAM DUBOIS", ZOE),
        ("Zoe Ngoc Lam Dubois.", ZOE),
        ("obrien", "O\u2019Brien"),
        ("D'Angelo", "D\u2019Angelo"),
        ("dang thi", "Đặng Thị"),
        ("lukasz orsted", "Łukasz Ørsted"),
        ("strasse", "Straße"),
        ("ελενη", "ΕΛΈΝΗ"),
        ("\uff46\uff55\uff4c\uff4c", "full"),  # full-width letters,
    ],
)
def test_folding_matches_what_a_clerk_types(typed: str, stored: str) -> None:
    assert fold_name(typed) == fold_name(stored)


@pytest.mark.parametrize("name", ["किशोर कुमार", "محمّد", "王小明", "김민준", "がくと", "שָׁלוֹם"])
def test_scripts_without_case_are_left_as_they_are(name: str) -> None:
    # Marks on letters without case are vowels or part of the letter: never dropped.
    assert fold_name(name) == name


def test_different_names_stay_different() -> None:
    assert fold_name("Anna Maria") != fold_name("Anne Marie")
    assert fold_name("محمّد") != fold_name("محمد")  # the shadda is kept
    assert fold_name("---") == ""


def test_exact_comparison_is_kept() -> None:
    assert same_name(ZOE, " Zoé  Ngọc Lâm-Dubois ")
    assert same_name(ZOE, "Zoe\u0301 Ngọc Lâm-Dubois")  # another Unicode form of the same text
    assert not same_name(ZOE, "zoe ngoc lam-dubois")


def test_search_finds_the_name_however_typed(session, deps, actor, city) -> None:
    enrolled = residents.enrol_resident(
        session, deps, enrolment(display_name=ZOE, birth_date="1990-04-17"), now=NOW, actor=actor
    )
    for typed in ("zoe ngoc lam-dubois", "ZOÉ NGỌC LÂM DUBOIS", ZOE):
        found = residents.find_residents(
            session, deps, display_name=typed, birth_date=enrolled_birth()
        )
        assert [view.id for view in found] == [enrolled.resident_id]
    # The birth date still has to match.
    assert not residents.find_residents(
        session, deps, display_name="zoe ngoc lam-dubois", birth_date=None
    )
    with pytest.raises(ValidationError):
        residents.find_residents(session, deps, display_name=" - ", birth_date=None)


def enrolled_birth() -> Any:
    from datetime import date

    return date(1990, 4, 17)


def test_exact_name_comes_first(session, deps, actor, city) -> None:
    plain = residents.enrol_resident(
        session, deps, enrolment(display_name="Zoe Ngoc Lam Dubois"), now=NOW, actor=actor
    )
    # The same person typed with accents: stopped before anything is written...
    with pytest.raises(PossibleDuplicateError) as info:
        residents.enrol_resident(session, deps, enrolment(display_name=ZOE), now=NOW, actor=actor)
    assert info.value.candidates == [plain.resident_id]
    # ...and, confirmed as another person, enrolled and flagged.
    accented = residents.enrol_resident(
        session, deps, enrolment(display_name=ZOE), now=NOW, actor=actor, confirm_duplicate=True
    )
    assert accented.possible_duplicates == [plain.resident_id]
    found = residents.find_residents(session, deps, display_name=ZOE, birth_date=enrolled_birth())
    assert [view.id for view in found] == [accented.resident_id, plain.resident_id]


def _age_to_version_1(session: Any, deps: Any, resident_id: str, name: str) -> None:
    """Make a row look like one written before the folding changed."""
    session.execute(
        update(Resident)
        .where(Resident.id == resident_id)
        .values(
            blind_index=deps.cipher.blind_index(name, enrolled_birth(), version=1),
            index_version=1,
        )
    )
    session.commit()


def test_rows_not_yet_reindexed_are_still_found_then_reindexed(session, deps, actor, city) -> None:
    old = residents.enrol_resident(session, deps, enrolment(display_name=ZOE), now=NOW, actor=actor)
    _age_to_version_1(session, deps, old.resident_id, ZOE)

    # Before the re-index: the exact name still finds it (version 1 index), and a new
    # enrolment of the same spelling is flagged.
    found = residents.find_residents(session, deps, display_name=ZOE, birth_date=enrolled_birth())
    assert [view.id for view in found] == [old.resident_id]

    result = reindex_residents(session, deps, now=NOW, actor=actor)
    assert (result.reindexed, result.keyless) == (1, 0)
    row = session.get(Resident, old.resident_id)
    assert row.index_version == FOLDING_VERSION
    assert row.blind_index == deps.cipher.blind_index(ZOE, enrolled_birth())
    found = residents.find_residents(
        session, deps, display_name="zoe ngoc lam-dubois", birth_date=enrolled_birth()
    )
    assert [view.id for view in found] == [old.resident_id]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.reindex")).one()
    assert audit.detail == "count:1"

    # Safe to re-run: nothing left to do, no second audit entry.
    assert reindex_residents(session, deps, now=NOW, actor=actor).reindexed == 0
    assert (
        len(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.reindex")).all()
        )
        == 1
    )


def test_reindex_skips_keyless_rows(session, deps, actor, city) -> None:
    from cardservice.services.residents import destroy_data_keys

    gone = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    _age_to_version_1(session, deps, gone.resident_id, "Amira Haddad")
    destroy_data_keys(session, [gone.resident_id])
    result = reindex_residents(session, deps, now=NOW, actor=actor)
    assert (result.reindexed, result.keyless) == (0, 1)


def test_reindex_command(app, runner, session, deps, actor, city) -> None:
    old = residents.enrol_resident(session, deps, enrolment(display_name=ZOE), now=NOW, actor=actor)
    _age_to_version_1(session, deps, old.resident_id, ZOE)
    result = runner.invoke(args=["residents", "reindex"])
    assert result.exit_code == 0, result.output
    assert "1 resident(s) re-indexed." in result.output
    assert ZOE not in result.output and old.resident_id not in result.output
    again = runner.invoke(args=["residents", "reindex"])
    assert again.exit_code == 0 and "0 resident(s) re-indexed." in again.output
