"""`cardservice init-city`: create the city."""

from __future__ import annotations

import click
from flask import current_app

from .base import now_utc, service_command, session_and_deps, system_actor


@click.command("init-city")
@click.option("--code", required=True, help='UN/LOCODE of the city, e.g. "FR SXB".')
@click.option(
    "--name",
    "names",
    required=True,
    multiple=True,
    help='City name; repeat as "fr=Strasbourg" to give names per language.',
)
@service_command
def init_city_command(code: str, names: tuple[str, ...]) -> None:
    """Create the city: root key, first signing key, first status list (never overwrites)."""
    from ..services.keys import init_city, root_fingerprint

    session, deps = session_and_deps()
    by_language: dict[str, str] = {}
    for entry in names:
        language, sep, name = entry.partition("=")
        if sep and 2 <= len(language) <= 8 and language.isalpha():
            by_language[language.lower()] = name
        else:
            by_language.setdefault(current_app.config.get("BABEL_DEFAULT_LOCALE", "en"), entry)
    init_city(
        session, deps, code=code, names=by_language, now=now_utc(), actor=system_actor("init-city")
    )
    click.echo(f"City {code.strip().upper()} created.")
    click.echo(f"Root key fingerprint (give it to partner cities): {root_fingerprint(session)}")
