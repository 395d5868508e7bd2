"""`cardservice residents ...`: maintenance of the residents' records."""

from __future__ import annotations

import click

from .base import now_utc, service_command, system_actor


@click.group("residents")
def residents_group() -> None:
    """Maintenance of the residents' records."""


@residents_group.command("reindex")
@service_command
def residents_reindex() -> None:
    """Recompute the blind indexes left from an older name folding (search insensitive to
    accents and punctuation). Safe to re-run: only rows below the current version are read, and
    an interrupted run resumes where it stopped. boot.sh runs it after every upgrade."""
    from ..extensions import db
    from ..services import deps
    from ..services.reindex import reindex_residents

    result = reindex_residents(
        db.session, deps(), now=now_utc(), actor=system_actor("residents-reindex")
    )
    click.echo(f"{result.reindexed} resident(s) re-indexed.")
    if result.keyless:
        click.echo(
            f"{result.keyless} resident row(s) without a data key skipped: "
            "run `cardservice keys sweep`.",
            err=True,
        )
