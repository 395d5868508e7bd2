"""The verifier's catalogues are complete and compiled, in every supported language.

Extraction runs over the whole verifier package (API and agent page), so any new translatable
string anywhere fails this test until it is translated into fr, en, es, pt and ar, and the
compiled .mo files must match the .po sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.checkers import python_format
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import verifier
from verifier.config import LANGUAGES
from verifier.i18n import PROBLEM_TITLES, RESULT_MESSAGES
from verifier.verification import RESULTS

PACKAGE = Path(verifier.__file__).parent
TRANSLATIONS = PACKAGE / "translations"


def _extracted() -> set[str]:
    with open(TRANSLATIONS / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PACKAGE,
        method_map,
        options_map,
        keywords={"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)},
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


EXTRACTED = _extracted()


def test_extraction_finds_the_api_strings() -> None:
    # Guards the test itself: if extraction silently found nothing, completeness would be vacuous.
    for text in RESULT_MESSAGES.values():
        assert text._args[0] in EXTRACTED  # type: ignore[attr-defined]
    assert len(EXTRACTED) >= len(RESULTS) + len(PROBLEM_TITLES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete_and_compiled(language: str) -> None:
    po_path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    with open(po_path, "rb") as fh:
        catalog = read_po(fh, locale=language)
    entries = {m.id: m for m in catalog if m.id}
    missing = sorted(EXTRACTED - set(entries))
    assert not missing, f"{language}: not in the catalogue (run pybabel update): {missing}"
    untranslated = sorted(i for i, m in entries.items() if i in EXTRACTED and not m.string)
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    fuzzy = sorted(i for i, m in entries.items() if m.fuzzy)
    assert not fuzzy, f"{language}: fuzzy entries need review: {fuzzy}"
    for message in entries.values():
        if message.python_format:
            python_format(catalog, message)  # raises on a lost or renamed placeholder

    with open(po_path.with_suffix(".mo"), "rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {i: m.string for i, m in entries.items()}
    assert compiled == source, f"{language}: messages.mo is stale (run pybabel compile)"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_result_message_is_served_translated(client: Any, language: str) -> None:
    english = client.post("/api/v1/verify", json={"qr": "nope"}).get_json()["message"]
    body = client.post(
        "/api/v1/verify", json={"qr": "nope"}, headers={"Accept-Language": language}
    ).get_json()
    assert body["result"] == "malformed"
    assert body["message"] and body["message"] != english


def test_problem_titles_are_translated(client: Any) -> None:
    body = client.post(
        "/api/v1/verify", data="x", content_type="text/plain", headers={"Accept-Language": "es"}
    ).get_json()
    assert body["title"] == "Este tipo de contenido no se acepta aquí."
