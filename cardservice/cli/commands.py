"""The city's own commands, registered on every app (`flask` and `cardservice` alike)."""

from __future__ import annotations

from flask import Flask

from .audit import audit_group
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
