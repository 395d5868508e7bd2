"""services.audit_export: the export format, and an earlier export as an anchor."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from cardservice.models import AuditEntry
from cardservice.services import audit, residents
from cardservice.services.audit_export import (
    NotAnExportError,
    anchor_of,
    export_entries,
    verify_anchor,
)

from ..conftest import NOW, enrolment


def test_the_export_holds_every_entry_with_its_hashes(session, deps, actor, city) -> None:
    residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    out = io.StringIO()
    count = export_entries(session, out)
    lines = out.getvalue().splitlines()
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert count == len(lines) == len(entries) >= 2
    first = json.loads(lines[0])
    assert set(first) == {
        "id", "at", "actor", "action", "card_number", "subject", "detail", "prev_hash", "hash"
    }  # fmt: skip
    # Each line recomputes to its own hash: a copy checks without the database.
    for line, entry in zip(lines, entries, strict=True):
        record = json.loads(line)
        assert record["id"] == entry.id and record["hash"] == entry.hash
        assert record["prev_hash"] == entry.prev_hash
        assert (
            audit.entry_hash(
                record["prev_hash"],
                at=entry.at,
                actor=record["actor"],
                action=record["action"],
                card_number=record["card_number"],
                subject=record["subject"],
                detail=record["detail"],
            )
            == record["hash"]
        )
    assert anchor_of(lines) == (entries[-1].id, entries[-1].hash)


def test_an_anchor_catches_a_rewritten_entry(session, deps, actor, city) -> None:
    out = io.StringIO()
    export_entries(session, out)
    anchor = out.getvalue().splitlines()
    assert verify_anchor(session, anchor) == []
    # Entries added since the export leave the anchor intact.
    residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    assert verify_anchor(session, anchor) == []

    anchor_id = json.loads(anchor[-1])["id"]
    entry = session.get(AuditEntry, anchor_id)
    entry.hash = "0" * 64
    session.commit()
    [problem] = verify_anchor(session, anchor)
    assert (problem.entry_id, problem.problem) == (anchor_id, "anchor_mismatch")
    session.delete(entry)
    session.commit()
    [problem] = verify_anchor(session, anchor)
    assert problem.problem == "anchor_mismatch"


@pytest.mark.parametrize(
    "lines",
    [[], ["", "  "], ["not json"], ['{"id": 1}'], ['{"id": "x", "hash": "a"}'], ["[1, 2]"]],
)
def test_what_is_not_an_export_is_refused(lines: list[str]) -> None:
    with pytest.raises(NotAnExportError):
        anchor_of(lines)
