"""`cardservice purge`: the retention purge, and the emergency purge of every record."""

from __future__ import annotations

import click

from .base import fail, format_moment, now_utc, service_command, session_and_deps, system_actor
from .keys import echo_sweep, sweep


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what the retention policy would erase.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--all-residents",
    is_flag=True,
    help="Emergency purge: erase EVERY resident record now (cards stay verifiable).",
)
@click.option("--confirm", default=None, help="With --all-residents: the city code, typed out.")
@service_command
def purge_command(dry_run: bool, yes: bool, all_residents: bool, confirm: str | None) -> None:
    """Erase residents past the retention period (or, with --all-residents, everyone)."""
    from ..services.keys import get_city
    from ..services.residents import purge_all_residents, purge_expired, retention_candidates

    session, deps = session_and_deps()
    now = now_utc()
    if all_residents:
        city = get_city(session)
        if dry_run:
            from sqlalchemy import func, select

            from ..models import Resident

            total = session.scalar(select(func.count()).select_from(Resident))
            click.echo(f"{total} resident record(s) would be erased.")
            return
        if confirm is None:
            fail(f'--all-residents needs --confirm "{city.code}"', 2)
        erased = purge_all_residents(
            session,
            deps,
            city_code=city.code,
            confirm=str(confirm),
            now=now,
            actor=system_actor("purge-all"),
        )
        click.echo(
            f"{erased} resident record(s) erased. Issued cards stay valid until they expire."
        )
        return
    candidates = retention_candidates(session, deps, now=now)
    click.echo(
        f"{len(candidates)} resident record(s) past retention "
        f"({deps.policy.retention_months} months after the last card expired)."
    )
    for candidate in candidates:
        click.echo(
            f"  resident {candidate.resident_id}  last card expired "
            f"{format_moment(candidate.last_expiry)}"
        )
    if dry_run:
        return
    if candidates:
        if not yes:
            click.confirm("Erase these records for good?", abort=True)
        erased = purge_expired(session, deps, now=now, actor=system_actor("purge"))
        click.echo(f"{erased} resident record(s) erased.")
    # Finishes erasures interrupted between the key store and the resident database.
    echo_sweep(sweep(session, deps, "purge"))
