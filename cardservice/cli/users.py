"""`cardservice users`: staff accounts."""

from __future__ import annotations

import sys

import click

from .base import now_utc, service_command, session_and_deps, system_actor


@click.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["clerk", "supervisor", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--language", default=None, help="Preferred UI language (fr, en, es, pt, ar).")
@service_command
def users_create(username: str, role: str, password_stdin: bool, language: str | None) -> None:
    """Create a staff account."""
    from ..services.staff import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    session, _ = session_and_deps()
    user = create_user(
        session,
        username=username,
        password=password,
        role=role,
        now=now_utc(),
        actor=system_actor("users-create"),
        preferred_language=language,
    )
    click.echo(f"User {user.username} ({user.role}) created.")


@users_group.command("reset-mfa")
@click.argument("username")
@service_command
def users_reset_mfa(username: str) -> None:
    """Remove every second factor of an account (lost phone or key); it sets one up again at
    its next sign-in. Check who is asking first: this undoes the account's second factor."""
    from ..services.mfa import reset_mfa

    session, _ = session_and_deps()
    user = reset_mfa(
        session, username=username, now=now_utc(), actor=system_actor("users-reset-mfa")
    )
    click.echo(f"Second factors of {user.username} removed: they set one up at next sign-in.")


@users_group.command("list")
@service_command
def users_list() -> None:
    """List staff accounts."""
    from ..services.staff import list_users

    session, _ = session_and_deps()
    for user in list_users(session):
        state = "active" if user.active else "disabled"
        locked = " locked" if user.locked_until and user.locked_until > now_utc() else ""
        click.echo(f"{user.username}\t{user.role}\t{state}{locked}")
