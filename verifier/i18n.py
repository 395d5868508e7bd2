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

from functools import lru_cache
from pathlib import Path

from flask import Flask, Request, current_app, has_request_context, request
from flask_babel import (
    Babel,
    force_locale,
    gettext,
    lazy_gettext,
)
from flask_babel import LazyString as _LazyString
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

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
    "clock_in_doubt": lazy_gettext(
        "The verifier's clock is earlier than its last update, so it cannot tell whether the "
        "card is valid now. Its date and time must be corrected before checking cards."
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
    if not has_request_context():  # the CLI: the instance default
        return default
    return language_of(request._get_current_object(), default)  # type: ignore[attr-defined]


def language_of(req: Request, default: str) -> str:
    """The language ``select_language`` chooses for ``req``, without the context lookups."""
    if req.query_string:  # parsing the query string costs; most requests have none
        explicit = req.args.get("lang", "")
        if explicit in LANGUAGES:
            return str(explicit)
    return _best_language(str(req.environ.get("HTTP_ACCEPT_LANGUAGE", "")), default)


@lru_cache(maxsize=512)
def _best_language(header: str, default: str) -> str:
    # Matching an Accept-Language header costs more than verifying a card's signature; an
    # agent's browser sends the same header every time, so remember the answer. Bounded, since
    # the header is the client's choice.
    best = parse_accept_header(header, LanguageAccept).best_match(LANGUAGES)
    return best or default


def current_language() -> str:
    """The language of this request: the same choice as Flask-Babel's locale selector.

    Asked directly rather than through flask_babel.get_locale(), which builds a Babel Locale
    object per request that the verification path does not need.
    """
    return select_language()


_MESSAGES: dict[tuple[str, str], str] = {}


def result_message(code: str, language: str | None = None) -> str:
    """The message for a result code in the request's (or the given) language.

    Translated once per language and code, then served from memory: the catalogues do not
    change while the process runs, and this is on the path of every verification.
    """
    language = language or current_language()
    key = (language, code)
    text = _MESSAGES.get(key)
    if text is None:
        with force_locale(language):
            text = str(RESULT_MESSAGES[code])
        _MESSAGES[key] = text
    return text


def problem_title(status: int) -> str:
    title = PROBLEM_TITLES.get(status)
    return str(title) if title is not None else gettext("The request could not be processed.")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LANGUAGE"])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_language)
