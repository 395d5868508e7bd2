"""The audit log's export format, and an earlier export used as an anchor.

An export is the whole log as JSON lines, one entry a line, with both hashes, so anyone can check
the copy without the database. Kept out of the database's reach, its last line becomes an
anchor: the chain can only be rewritten from start to end by someone who also rewrites that
line, so `verify_anchor` catches what `audit.verify_chain` alone cannot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from ..models import AuditEntry
from ._types import DbSession
from .audit import ChainProblem, iter_entries


class NotAnExportError(ValueError):
    """The anchor given is not the output of `export_entries` (or is empty)."""


def export_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as its export line holds it: every hashed field, and both hashes."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "card_number": entry.card_number,
        "subject": entry.subject,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def export_entries(session: DbSession, out: IO[str]) -> int:
    """Write the whole log to `out`, oldest entry first, one JSON line each. Returns how many."""
    count = 0
    for entry in iter_entries(session):
        out.write(json.dumps(export_record(entry), ensure_ascii=False) + "\n")
        count += 1
    return count


def anchor_of(lines: Iterable[str]) -> tuple[int, str]:
    """The id and hash of an export's last entry (blank lines ignored)."""
    last = None
    try:
        for line in lines:
            if line.strip():
                last = line
        record: Any = json.loads(last) if last else None
        return int(record["id"]), str(record["hash"])
    except (TypeError, ValueError, KeyError):
        # TypeError: an empty file (None) or a line that is not an object; ValueError: not
        # JSON, not UTF-8 text, or an id that is not a number.
        raise NotAnExportError() from None


def verify_anchor(session: DbSession, lines: Iterable[str]) -> list[ChainProblem]:
    """Compare an earlier export's last entry with the log: the entry must still be there with
    the same hash. One hash commits to every entry before it, so if this holds and the chain
    verifies, everything up to the anchor is as it was exported.

    NotAnExportError when `lines` are not an export."""
    anchor_id, anchor_hash = anchor_of(lines)
    entry = session.get(AuditEntry, anchor_id)
    if entry is None or entry.hash != anchor_hash:
        return [ChainProblem(anchor_id, "anchor_mismatch")]
    return []
