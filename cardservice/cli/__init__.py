"""The `cardservice` command: Flask's CLI (run, db, shell) plus the city's own commands.

Errors are printed as one clear line on stderr with a non-zero exit code, never a traceback:
1 for a refused action (domain error), 2 for bad usage or configuration. One module per
command group; base holds what they share, commands registers them on the app. This module is
the console entry point only: the app imports commands, never this module.
"""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from ..config import ConfigError
from .base import fail


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
