"""Issue 6 item 6: `cardservice audit verify` finds an entry edited, inserted or deleted with
raw SQL behind the application's back (what a rogue administrator with database access does)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cardservice.services.audit import entry_hash

from .helpers import auth, enrol, issue


def _ids(session: Any) -> list[int]:
    return [row[0] for row in session.execute(text("SELECT id FROM audit_entry ORDER BY id"))]


def _edit(session: Any, ids: list[int]) -> int:
    target = ids[len(ids) // 2]
    session.execute(
        text("UPDATE audit_entry SET actor = 'staff:999' WHERE id = :id"), {"id": target}
    )
    return target


def _delete(session: Any, ids: list[int]) -> int:
    target = ids[len(ids) // 2]
    session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": target})
    return ids[len(ids) // 2 + 1]  # the entry whose link now points at nothing


def _insert(session: Any, ids: list[int]) -> int:
    """A forged entry slipped in the middle, well formed: its own hash is right and its id fits
    between two real ones. (prev_hash is unique, so it cannot claim a real entry's place.)"""
    after = ids[len(ids) // 2]
    offset = max(ids) + 10
    # Make room for an id in the middle, as a careful forger would.
    session.execute(
        text("UPDATE audit_entry SET id = id + :o WHERE id > :after"), {"o": offset, "after": after}
    )
    at = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    prev = "f" * 64
    fields = {
        "at": at,
        "actor": "staff:1",
        "action": "card.revoke",
        "card_number": None,
        "subject": None,
        "detail": "forged",
    }
    digest = entry_hash(prev, **fields)
    session.execute(
        text(
            "INSERT INTO audit_entry (id, at, actor, staff_id, action, card_number, subject, "
            "detail, prev_hash, hash) VALUES (:id, :at, :actor, 1, :action, :card_number, "
            ":subject, :detail, :prev, :hash)"
        ),
        {"id": after + 1, "prev": prev, "hash": digest, **fields},
    )
    return after + 1


def _truncate_tail(session: Any, ids: list[int]) -> int | None:
    session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": ids[-1]})
    return None  # only the head, which counts entries and holds the last hash, can tell


TAMPERINGS: dict[str, tuple[Callable[[Any, list[int]], int | None], str]] = {
    "edited": (_edit, "edited"),
    "deleted": (_delete, "broken_link"),
    "inserted": (_insert, "broken_link"),
    "tail deleted": (_truncate_tail, "head_mismatch"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_audit_verify_finds_tampering(kind, app, client, runner, session, city, tokens) -> None:
    from cardservice.services.audit import verify_chain

    rid = enrol(client, tokens["clerk"])
    number = issue(client, tokens["clerk"], rid)["number"]
    client.post(
        f"/api/v1/cards/{number}/revoke", json={"reason": "lost"}, headers=auth(tokens["admin"])
    )
    enrol(client, tokens["clerk"], display_name="Second Person")
    session.remove()
    intact = runner.invoke(args=["audit", "verify"])
    assert intact.exit_code == 0 and intact.output.strip() == "Audit log intact."
    ids = _ids(session)
    assert len(ids) >= 6

    tamper, problem = TAMPERINGS[kind]
    where = tamper(session, ids)
    session.commit()
    session.remove()

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "the audit log was tampered with or damaged" in result.output
    label = f"entry {where}" if where is not None else "chain head"
    assert f"{label}: {problem}" in result.output
    found = {(p.entry_id, p.problem) for p in verify_chain(session)}
    assert (where, problem) in found


def test_exported_log_verifies_offline(
    app, client, runner, session, city, tokens, tmp_path: Path
) -> None:
    """An auditor recomputes the chain from the export alone, with nothing but SHA-256."""
    import hashlib

    enrol(client, tokens["clerk"])
    out = tmp_path / "audit.jsonl"
    assert runner.invoke(args=["audit", "export", "--out", str(out)]).exit_code == 0
    previous = "0" * 64
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines
    for line in lines:
        canonical = json.dumps(
            [
                line["prev_hash"],
                line["at"],
                line["actor"],
                line["action"],
                line["card_number"],
                line["subject"],
                line["detail"],
            ],
            ensure_ascii=True,
            separators=(",", ":"),
        )
        assert line["prev_hash"] == previous
        assert hashlib.sha256(canonical.encode("ascii")).hexdigest() == line["hash"]
        previous = line["hash"]


def _rewrite_whole_chain(session: Any) -> None:
    """What a database administrator with write access can do: change an old entry, then
    recompute every hash after it and the head, so the chain is consistent again."""
    rows = session.execute(
        text(
            "SELECT id, at, actor, action, card_number, subject, detail FROM audit_entry "
            "ORDER BY id"
        )
    ).all()
    # Unique constraints on the hashes: clear them first, then write the new chain.
    session.execute(text("UPDATE audit_entry SET prev_hash = 'x' || id, hash = 'y' || id"))
    previous = "0" * 64
    for number, (entry_id, at, actor, action, card_number, subject, detail) in enumerate(rows):
        if number == 0:
            actor = "staff:999"
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        digest = entry_hash(
            previous,
            at=at,
            actor=actor,
            action=action,
            card_number=card_number,
            subject=subject,
            detail=detail,
        )
        session.execute(
            text("UPDATE audit_entry SET actor = :a, prev_hash = :p, hash = :h WHERE id = :id"),
            {"a": actor, "p": previous, "h": digest, "id": entry_id},
        )
        previous = digest
    session.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": previous})
    session.commit()
    session.remove()


def test_anchor_from_an_earlier_export_catches_a_rewritten_chain(
    app, client, runner, session, city, tokens, tmp_path: Path
) -> None:
    enrol(client, tokens["clerk"])
    anchor = tmp_path / "audit-monday.jsonl"
    assert runner.invoke(args=["audit", "export", "--out", str(anchor)]).exit_code == 0
    enrol(client, tokens["clerk"], display_name="Later Person")
    session.remove()
    ok = runner.invoke(args=["audit", "verify", "--anchor", str(anchor)])
    assert ok.exit_code == 0 and ok.output.strip() == "Audit log intact.", ok.output

    _rewrite_whole_chain(session)
    # The chain alone cannot tell: it is consistent again...
    alone = runner.invoke(args=["audit", "verify"])
    assert alone.exit_code == 0, alone.output
    # ... but the export kept elsewhere can.
    anchored = runner.invoke(args=["audit", "verify", "--anchor", str(anchor)])
    assert anchored.exit_code == 1
    last_id = json.loads(anchor.read_text().splitlines()[-1])["id"]
    assert f"entry {last_id}: anchor_mismatch" in anchored.output

    not_an_export = tmp_path / "notes.txt"
    not_an_export.write_text("hello\n")
    bad = runner.invoke(args=["audit", "verify", "--anchor", str(not_an_export)])
    assert bad.exit_code == 2 and "is not an audit export" in bad.output
