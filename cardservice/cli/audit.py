"""`cardservice audit`: verify the audit log's hash chain, export it."""

from __future__ import annotations

from typing import Any

import click

from .base import fail, service_command, session_and_deps


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="An earlier `audit export` kept out of the database's reach: its last entry must "
    "still be in the chain, unchanged (catches a chain rewritten from start to end).",
)
@service_command
def audit_verify(anchor_path: str | None) -> None:
    """Check the hash chain: finds edited, inserted or deleted entries."""
    from ..models import AuditEntry
    from ..services.audit import ChainProblem, verify_chain

    session, _ = session_and_deps()
    problems = verify_chain(session)
    if anchor_path is not None:
        import json

        last = None
        with open(anchor_path, encoding="utf-8") as anchor:
            for line in anchor:
                if line.strip():
                    last = line
        try:
            # Indexing None (an empty file) raises the TypeError handled below.
            anchored: Any = json.loads(last) if last else None
            anchor_id, anchor_hash = int(anchored["id"]), str(anchored["hash"])
        except (TypeError, ValueError, KeyError):
            fail(f"{anchor_path} is not an audit export", 2)
            return
        # One hash commits to every entry before it: if the anchored entry is still there with
        # the same hash and the chain verifies, everything up to the anchor is as exported.
        entry = session.get(AuditEntry, anchor_id)
        if entry is None or entry.hash != anchor_hash:
            problems.append(ChainProblem(anchor_id, "anchor_mismatch"))
    if problems:
        for problem in problems:
            where = f"entry {problem.entry_id}" if problem.entry_id else "chain head"
            click.echo(f"{where}: {problem.problem}", err=True)
        fail("the audit log was tampered with or damaged")
    click.echo("Audit log intact.")


@audit_group.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True))
@service_command
def audit_export(out_path: str) -> None:
    """Write the whole audit log as JSON lines (with hashes, so the copy can be verified)."""
    import json

    from ..services.audit import iter_entries

    session, _ = session_and_deps()
    count = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for entry in iter_entries(session):
            record = {
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
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    click.echo(f"{count} audit entries written to {out_path}.")
