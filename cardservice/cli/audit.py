"""`cardservice audit`: verify the audit log's hash chain, export it."""

from __future__ import annotations

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
    from ..services.audit import verify_chain
    from ..services.audit_export import NotAnExportError, verify_anchor

    session, _ = session_and_deps()
    problems = verify_chain(session)
    if anchor_path is not None:
        try:
            with open(anchor_path, encoding="utf-8") as anchor:
                problems += verify_anchor(session, anchor)
        except NotAnExportError:
            fail(f"{anchor_path} is not an audit export", 2)
            return
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
    from ..services.audit_export import export_entries

    session, _ = session_and_deps()
    with open(out_path, "w", encoding="utf-8") as out:
        count = export_entries(session, out)
    click.echo(f"{count} audit entries written to {out_path}.")
