"""The display name at enrolment: the card format's name rule, and nothing else.

One rule (docs/card-format.md section 3.2, ``cardformat.names``): the counter and the API accept
exactly the names the format accepts, so that no name a partner's verifier would take is refused
here and none refused there is signed here. On top of the format, the card must be able to
print the name; every script with a shipped font prints whole at any length the format allows
(cardservice.printing, tests/integration/printing/test_names.py), so what is left is a name
in a script no shipped font draws.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

import cardformat
from cardformat.names import NAME_EDGE_SPACES, is_forbidden


def check_display_name(raw: object) -> tuple[str, LazyString | None]:
    """The name to store (trimmed, runs of spaces made one, NFC) and the reason to
    refuse it, or None when the card format accepts it and the card prints it."""
    if not isinstance(raw, str) or not raw.strip():
        return "", _l("The display name is required.")
    # A character the rule forbids is refused as typed, before the white space is tidied: a
    # tab or a line break inside a name is a control character, not a space.
    forbidden = next((ch for ch in raw if is_forbidden(ch)), None)
    if forbidden is not None:
        return raw, _forbidden_reason(forbidden)
    # Typing slips, not part of the name: white space at either end goes, and a run of spaces
    # becomes one. Any other space inside (no-break, ideographic) is the name's own and stays,
    # as the format allows it. Only then is the name judged, as the card will carry it.
    name = _SPACE_RUN.sub(" ", unicodedata.normalize("NFC", raw).strip("".join(NAME_EDGE_SPACES)))
    try:
        cardformat.check_holder_name(name)
    except cardformat.InvalidNameError as refused:
        if refused.reason == "forbidden" and refused.character is not None:
            return name, _forbidden_reason(refused.character)
        return name, _REASONS.get(refused.reason, _CANNOT_PRINT)
    from ..printing import holder_name_fits, unsupported_characters

    if unsupported_characters(name):
        return name, _l("The display name uses characters the card cannot print.")
    if not holder_name_fits(name):
        # Not reached for any name the format accepts (test_names.py); kept so that a font
        # change that breaks the promise refuses a name rather than printing it cut.
        return name, _l("The display name is too long to print on the card.")
    return name, None


_SPACE_RUN = re.compile(" {2,}")


def _forbidden_reason(ch: str) -> LazyString:
    # Controls, format characters and separators are invisible; the rest (markup symbols, word
    # ligatures) are visible characters that names do not use.
    if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp"):
        return _l("The display name contains invisible control characters.")
    return _l("The display name contains characters that are not used in names.")


_CANNOT_PRINT = _l("The display name cannot be printed on a card.")
_REASONS: dict[str, LazyString] = {
    "too_long": _l("The display name is too long to print on the card."),
    "marks": _l("The display name has too many accents on one letter."),
}
