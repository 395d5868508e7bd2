"""`cardservice tokens`: API tokens."""

from __future__ import annotations

import click

from .base import now_utc, service_command, session_and_deps, system_actor


@click.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["clerk", "supervisor", "admin"]),
    default="clerk",
    show_default=True,
)
@service_command
def tokens_create(name: str, role: str) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from ..services.tokens import create_token

    session, _ = session_and_deps()
    created = create_token(
        session, name=name, role=role, now=now_utc(), actor=system_actor("tokens")
    )
    click.echo(created.token)


@tokens_group.command("revoke")
@click.argument("name")
@service_command
def tokens_revoke(name: str) -> None:
    """Revoke an API token by name."""
    from ..services.tokens import revoke_token

    session, _ = session_and_deps()
    revoke_token(session, name=name, now=now_utc(), actor=system_actor("tokens"))
    click.echo(f"Token {name} revoked.")
