"""`cardservice cards`: batch printing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from .base import now_utc, service_command, session_and_deps, system_actor


@click.group("cards")
def cards_group() -> None:
    """Card printing."""


@cards_group.command("print-batch")
@click.option(
    "--since",
    "since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Print the valid cards issued on or after this date (YYYY-MM-DD, UTC).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The PDF file to write.",
)
@click.option(
    "--layout",
    type=click.Choice(["a4", "card"]),
    default="a4",
    show_default=True,
    help="a4: four cards per sheet for office printers; card: CR80 pages for card printers.",
)
@service_command
def cards_print_batch(since: datetime, out_path: str, layout: str) -> None:
    """Print cards issued since a date into one PDF, streaming (memory stays flat)."""
    from ..printing import render_batch
    from ..services.cards import cards_issued_since, print_batch

    session, deps = session_and_deps()
    now = now_utc()
    numbers = cards_issued_since(session, since.replace(tzinfo=UTC), now=now)
    if not numbers:
        click.echo("No card to print.")
        return
    cards = print_batch(session, deps, numbers, now=now, actor=system_actor("print-batch"))
    with (
        open(out_path, "wb") as out,
        click.progressbar(length=len(numbers), label="Printing cards", file=sys.stderr) as bar,
    ):
        count = render_batch(
            cards,
            out,
            layout="card" if layout == "card" else "a4",
            progress=lambda _n: bar.update(1),
        )
    click.echo(f"{count} card(s) written to {out_path}.")
