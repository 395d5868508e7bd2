"""Languages of the counter: complete catalogs, in step with the code, right to left for Arabic.

The catalog tests read the committed files, so they fail as soon as someone adds a UI string
without running the extract/update/translate/compile cycle described in cardservice/i18n.py.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

import cardservice
from cardservice.extensions import db
from cardservice.i18n import LANGUAGES, TRANSLATIONS_DIR
from cardservice.services import Actor
from cardservice.services import staff as staff_service
from tests.integration.issuance_app import SessionApp, dispose

from .support import PASSWORD, first_sign_in, login

PACKAGE = Path(cardservice.__file__).resolve().parent
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
}


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=language)


def _extracted_ids() -> set[str]:
    with open(PACKAGE / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _ids(catalog) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    ids = _extracted_ids()
    assert len(ids) > 200  # the extraction itself works
    return ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_not_fuzzy(language: str) -> None:
    catalog = _catalog(language)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_matches_the_extracted_messages(language: str, extracted: set[str]) -> None:
    in_catalog = _ids(_catalog(language))
    assert extracted - in_catalog == set(), "in the code but not in the catalog"
    assert in_catalog - extracted == set(), "in the catalog but no longer in the code"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language: str) -> None:
    catalog = _catalog(language)
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert errors == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_is_up_to_date(language: str) -> None:
    po = _catalog(language)
    with open(TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        mo = read_mo(fh)

    def table(catalog) -> dict[object, object]:  # type: ignore[no-untyped-def]
        return {_key(m.id): _key(m.string) for m in catalog if m.id}

    expected, compiled = table(po), table(mo)
    assert compiled == expected, "run: pybabel compile -d cardservice/translations"


def test_template_catalog_is_in_step(extracted: set[str]) -> None:
    with open(TRANSLATIONS_DIR / "messages.pot", "rb") as fh:
        pot = read_po(fh)
    assert _ids(pot) == extracted


def test_the_untranslated_check_catches_a_missing_string() -> None:
    # Guard against a completeness test that cannot fail: feed it a gap.
    text = 'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\nmsgid "Hello"\nmsgstr ""\n'
    catalog = read_po(io.BytesIO(text.encode()), locale="fr")
    assert [m.id for m in catalog if m.id and not m.string] == ["Hello"]


SIGN_IN = {
    "fr": "Se connecter",
    "en": "Sign in",
    "es": "Iniciar sesión",
    "pt": "Iniciar sessão",
    "ar": "تسجيل الدخول",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_browser_language_picks_the_page_language(app: Flask, language: str) -> None:
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": f"{language};q=0.9,de;q=0.5"})
    html = page.get_data(as_text=True)
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in html
    assert SIGN_IN[language] in html


def test_unknown_browser_language_falls_back_to_english(app: Flask) -> None:
    html = (
        app.test_client()
        .get("/login", headers={"Accept-Language": "de, ja"})
        .get_data(as_text=True)
    )
    assert '<html lang="en" dir="ltr">' in html


def test_profile_language_wins_over_the_browser(app: Flask) -> None:
    with app.app_context():
        staff_service.create_user(
            db.session,
            username="amal",
            password=PASSWORD,
            role="clerk",
            preferred_language="ar",
            now=datetime.now(UTC),
            actor=Actor.system("tests"),
        )
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pt-BR,pt;q=0.9"
    assert '<html lang="pt"' in client.get("/login").get_data(as_text=True)
    assert first_sign_in(client, "amal", PASSWORD).status_code == 302
    html = client.get("/residents/new").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "تسجيل ساكن" in html  # "Enrol a resident"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_translated(app: Flask, language: str) -> None:
    """No English UI string leaks onto the enrolment page in another language."""
    if language == "en":
        return
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert login(client, "admin").status_code == 302
    for path in ("/", "/residents/new", "/audit", "/statistics", "/admin/staff", "/admin/keys"):
        html = client.get(path).get_data(as_text=True)
        for english in (
            "Enrol a resident",
            "Sign out",
            "There is a problem",
            "Audit log",
            "Skip to main content",
            "says nothing about immigration status",
        ):
            assert english not in html, (language, path, english)


def test_app_wide_error_pages_are_translated(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/no-such-page", headers={"Accept-Language": "ar"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="ar" dir="rtl">' in html
    assert "غير موجود" in html  # "Not found"
    response = client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert "No encontrado" in response.get_data(as_text=True)


def test_document_names_missing_in_a_language_are_marked_with_theirs(
    tmp_path: Path, counter_template: SessionApp
) -> None:
    # A policy that names its documents in English and French only.
    source = (PACKAGE.parent / "config" / "policy" / "default.toml").read_text(encoding="utf-8")
    policy = tmp_path / "two-languages.toml"
    policy.write_text(re.sub(r', (es|pt|ar) = "[^"]*"', "", source), encoding="utf-8")
    app = counter_template.fresh_copy(tmp_path / "instance", POLICY=str(policy))
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ar"
    assert login(client, "clerk").status_code == 302
    html = client.get("/residents/new").get_data(as_text=True)
    assert '<span lang="en">Passport' in html
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    html = client.get("/residents/new").get_data(as_text=True)
    assert "<span>Passeport" in html
    dispose(app)


def test_document_names_follow_the_page_language(app: Flask) -> None:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ar"
    assert login(client, "clerk").status_code == 302
    html = client.get("/residents/new").get_data(as_text=True)
    assert "<span>جواز سفر" in html
