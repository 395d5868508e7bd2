"""Languages of the staff UI: Flask-Babel setup and the locale selector.

The staff member's own profile language wins; without one (anonymous pages such as the login
form, or a profile left empty) the browser's Accept-Language picks among the languages we ship
complete catalogs for. Arabic is written right to left, so templates read ``text_direction``
to set ``dir`` on ``<html>``.

Catalogs live in ``cardservice/translations/<lang>/LC_MESSAGES/messages.{po,mo}``. After
changing UI strings::

    pybabel extract -F cardservice/babel.cfg -k lazy_gettext -k _l --no-location \\
        --sort-output --project=citycard --version=0.1 \\
        --copyright-holder="The citycard authors" \\
        -o cardservice/translations/messages.pot cardservice
    pybabel update -i cardservice/translations/messages.pot -d cardservice/translations \\
        --width=100 --ignore-obsolete
    # translate every new or fuzzy entry in each messages.po (fr, en, es, pt, ar), then:
    pybabel compile -d cardservice/translations

The compiled ``.mo`` files are committed so a deployment needs no build step;
``tests/integration/counter/test_i18n.py`` fails when a catalog lags behind the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale
from flask_login import current_user

#: Languages with a complete catalog, in the order offered to staff.
LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "pt", "ar")
#: Each language's own name, shown in language pickers whatever the UI language is.
LANGUAGE_NAMES: dict[str, str] = {
    "fr": "Français",
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "ar": "العربية",
}
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

babel = Babel()


def _profile_language() -> str | None:
    """The logged-in staff member's chosen language, if any and if we ship it."""
    try:
        authenticated = bool(current_user.is_authenticated)
    except Exception:  # no login manager on this app (e.g. a bare test app)
        return None
    if not authenticated:
        return None
    value = getattr(current_user, "preferred_language", None)
    return value if isinstance(value, str) and value in LANGUAGES else None


def select_locale() -> str:
    """Profile language, then the browser's preference, then the default."""
    chosen = _profile_language()
    if chosen:
        return chosen
    if not has_request_context():  # CLI commands and services run without a request
        return DEFAULT_LANGUAGE
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT_LANGUAGE


def text_direction(locale: str | None = None) -> str:
    """``rtl`` for right-to-left languages, ``ltr`` otherwise."""
    language = locale or str(get_locale() or DEFAULT_LANGUAGE)
    return "rtl" if language.split("_")[0] in RTL_LANGUAGES else "ltr"


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE).split("_")[0]


def init_app(app: Flask) -> None:
    """Wire Flask-Babel into ``app`` with our catalogs and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def _i18n_context() -> dict[str, Any]:
        return {
            "html_lang": current_language(),
            "text_direction": text_direction(),
            "LANGUAGE_NAMES": LANGUAGE_NAMES,
            "LANGUAGES": LANGUAGES,
        }
