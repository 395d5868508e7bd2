"""The `cardservice` command: Flask's CLI (run, db, shell) plus the city's own commands.

Errors are printed as one clear line on stderr with a non-zero exit code, never a traceback:
1 for a refused action (domain error), 2 for bad usage or configuration. One module per
command group; base holds what they share.
"""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from ..config import ConfigError
from .audit import audit_group
from .base import fail
from .cards import cards_group
from .city import init_city_command
from .keys import keys_group
from .purge import purge_command
from .status import status_group
from .tokens import tokens_group
from .users import users_group


def register_commands(app: Flask) -> None:
    for command in (
        init_city_command,
        users_group,
        tokens_group,
        keys_group,
        cards_group,
        purge_command,
        audit_group,
        status_group,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from .. import create_app

    try:
        return create_app()
    except ConfigError as exc:
        fail(str(exc), 2)
        raise  # unreachable: fail exits


cli = FlaskGroup(
    name="cardservice",
    create_app=_create_app,
    add_version_option=False,
    help="The city's card issuance service.",
)


def main() -> None:
    cli.main(prog_name="cardservice")
