"""`cardservice status`: check the published status lists against the card records."""

from __future__ import annotations

import click

from .base import fail, service_command, session_and_deps


@click.group("status")
def status_group() -> None:
    """The published status lists."""


def _indices(indices: tuple[int, ...], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


@status_group.command("check")
@service_command
def status_check() -> None:
    """Compare every published status-list token, and every list, with the cards' statuses.

    Exits 1 naming each list that differs, with counts and status indices (never a card number
    or a name).
    """
    from ..services.statuscheck import check_status_lists

    session, _ = session_and_deps()
    result = check_status_lists(session)
    session.rollback()
    for check in result.lists:
        if check.ok:
            state = "published token matches the cards" if check.published else "not published yet"
            click.echo(f"status list {check.list_id}: ok ({state})")
            continue
        if check.token_problem is not None:
            click.echo(
                f"status list {check.list_id}: the published token does not verify "
                f"({check.token_problem})",
                err=True,
            )
        if check.token_differences:
            click.echo(
                f"status list {check.list_id}: {len(check.token_differences)} difference(s) "
                f"between the published token and the cards (status indices "
                f"{_indices(check.token_differences)})",
                err=True,
            )
        if check.list_differences:
            click.echo(
                f"status list {check.list_id}: {len(check.list_differences)} difference(s) "
                f"between the stored list and the cards (status indices "
                f"{_indices(check.list_differences)})",
                err=True,
            )
    if not result.ok:
        fail(
            "published status differs from the database in list(s) "
            + ", ".join(str(i) for i in result.mismatched)
        )
    click.echo(f"{len(result.lists)} status list(s) consistent with the cards.")
