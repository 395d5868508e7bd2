"""Languages of the verifier: Flask-Babel wiring and the translated texts of the API.

The agent's language comes from an explicit ``lang`` query parameter (the agent page's
language switch), else from Accept-Language, else the instance default. The catalogues live in
verifier/translations and are complete for every language (a test fails on any missing entry).

Maintainers: after changing a translatable string anywhere in verifier/, run

    .venv/bin/pybabel extract -F verifier/translations/babel.cfg -k lazy_gettext \\
        --no-location --sort-output \\
        -o verifier/translations/messages.pot verifier
    .venv/bin/pybabel update -i verifier/translations/messages.pot -d verifier/translations
    (translate the new entries)
    .venv/bin/pybabel compile -d verifier/translations
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext
from flask_babel import LazyString as _LazyString

from .config import LANGUAGES

TRANSLATIONS_DIR = Path(__file__).with_name("translations")
RTL_LANGUAGES = frozenset({"ar"})

babel = Babel()

# What the agent sees for each result code. Short, plain and unambiguous: the page shows it
# under a large verdict, and an agent reads it aloud to the person at the desk.
RESULT_MESSAGES: dict[str, _LazyString] = {
    "valid": lazy_gettext("Genuine card, valid."),
    "revoked": lazy_gettext("This card has been revoked by its issuing city. It is not valid."),
    "suspended": lazy_gettext("This card is suspended by its issuing city. It is not valid now."),
    "expired": lazy_gettext("This card has expired."),
    "not_yet_valid": lazy_gettext(
        "This card is not valid yet. Check that this device's date and time are correct."
    ),
    "key_revoked": lazy_gettext(
        "This card was signed with a key its city has withdrawn. It is not valid; "
        "the holder can ask the city for a new card."
    ),
    "unknown_issuer": lazy_gettext(
        "This card comes from a city this verifier does not know. It cannot be checked here."
    ),
    "bad_signature": lazy_gettext("Not genuine: the card's signature does not match its content."),
    "malformed": lazy_gettext("This is not a readable city card code."),
    "status_unknown": lazy_gettext(
        "The card is genuine, but its current status could not be checked recently. "
        "Do not treat it as valid until this verifier is up to date."
    ),
}

# Titles of the API's problem+json answers (RFC 9457), by HTTP status.
PROBLEM_TITLES: dict[int, _LazyString] = {
    400: lazy_gettext("The request is not valid."),
    404: lazy_gettext("Nothing here."),
    405: lazy_gettext("This method is not allowed here."),
    411: lazy_gettext("The request must declare its length."),
    413: lazy_gettext("The request is too large."),
    415: lazy_gettext("This content type is not accepted here."),
    422: lazy_gettext("The request could not be processed."),
    429: lazy_gettext("Too many requests. Wait a moment and try again."),
    500: lazy_gettext("Something went wrong on the server."),
}


def select_language() -> str:
    """The agent's language among the supported ones (Flask-Babel's locale selector)."""
    default: str = current_app.config["DEFAULT_LANGUAGE"]
    try:
        explicit = request.args.get("lang", "")
    except RuntimeError:  # outside a request (CLI): the instance default
        return default
    if explicit in LANGUAGES:
        return explicit
    best = request.accept_languages.best_match(LANGUAGES)
    return best or default


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else current_app.config["DEFAULT_LANGUAGE"]


def result_message(code: str) -> str:
    return str(RESULT_MESSAGES[code])


def problem_title(status: int) -> str:
    title = PROBLEM_TITLES.get(status)
    return str(title) if title is not None else gettext("The request could not be processed.")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LANGUAGE"])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_language)
