"""The ``verifier`` console command: a Flask CLI group (so ``verifier run --port N`` comes with
it) over the app.

The trust commands (``partners``, ``networks``, ``sync``) are listed and live in
``verifier/commands.py``, and the app factory registers them; this module only builds the app for
the group, so the package never imports its entry point.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup

from . import create_app
from .config import ConfigError


def _create_app(*_args: Any) -> Flask:
    return create_app()


cli = FlaskGroup(
    create_app=_create_app,
    add_version_option=False,
    help="The city card verifier: trust store, sync and server.",
)


def main() -> None:
    try:
        cli.main(prog_name="verifier")
    except ConfigError as exc:
        # A configuration mistake is the operator's to fix: say what, without a traceback.
        click.echo(f"verifier: configuration error: {exc}", err=True)
        sys.exit(2)
