"""Folding of names for search and duplicate detection: "zoe ngoc lam-dubois" finds
"Zoé Ngọc Lâm-Dubois".

The blind index (services.crypto) is an HMAC of the folded name and the birth date, so the
database can only ever answer "same folded name and birth date": the folding decides what a
clerk's search finds. It is built on the Unicode Character Database that ships with Python
(``unicodedata``) rather than on ICU or a transliteration library, on purpose:

- the rules needed here are exactly Unicode's own data: canonical/compatibility decomposition,
  general categories and full case folding; PyICU would bring a compiled ICU binding (and a C++
  build on every machine) for the same tables;
- transliterators such as Unidecode or anyascii turn every script into ASCII ("王" into "Wang"),
  which would merge names that are different in their own script; names in scripts without case
  or removable accents must stay as they are.

What folds, in order:

1. Compatibility decomposition (NFKD): "ﬁ" is "fi", full-width letters are ASCII, "é" is "e" plus
   a combining accent.
2. Full case folding (``str.casefold``): "ß" is "ss", final sigma is sigma, "İ" is "i" plus a dot.
3. Combining marks are dropped only where they sit on a letter that has case (Latin, Greek,
   Cyrillic, Armenian...), where they are accents a clerk may or may not type. On letters without
   case (Arabic, Hebrew, the Indic scripts, kana, Hangul...) marks are vowels or part of the letter
   and are kept: "किशोर" stays "किशोर".
4. The few Latin letters with a stroke or ligature that Unicode does not decompose ("ø", "ł",
   "đ", "æ", "œ"...) become their base letters, as a clerk on a plain keyboard types them.
5. Apostrophes vanish ("O'Brien" is "obrien", whichever apostrophe was typed); every other run of
   punctuation, symbols and spaces is one space ("Lâm-Dubois" is "lam dubois").
6. Canonical composition (NFC), so what remains of an uncased script is in its usual form.

The folded form is for matching only: the record keeps the name exactly as entered, and search
results say whether the stored name is the one typed, character for character (``same_name``).
"""

from __future__ import annotations

import unicodedata
from datetime import date

#: Bumped whenever the folding changes: the blind index carries the version it was computed
#: with, and `cardservice residents reindex` brings older rows to this one.
FOLDING_VERSION = 2

# Latin letters (after case folding) without a canonical decomposition, mapped to what a plain
# keyboard types for them. Only letters that occur in names in use.
_LATIN_EXTRAS = {
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "ħ": "h",
    "ŧ": "t",
    "\u0131": "i",  # dotless i
    "ɨ": "i",
    "ƚ": "l",
    "ƀ": "b",
    "ɗ": "d",
    "ɓ": "b",
    "ƙ": "k",
    "ƴ": "y",
    "ŋ": "n",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}

# Apostrophes and the letters used as such (U+2019 right single quotation mark, U+02BC modifier
# apostrophe, U+02BB turned comma, as in Hawaiian): "D'Angelo" typed with any of them, and
# "DAngelo", are one name.
_APOSTROPHES = frozenset("'\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032")


def _has_case(char: str) -> bool:
    return char.lower() != char.upper() or char.casefold() != char


def fold_name(name: str) -> str:
    """The folded form of ``name`` (see the module's docstring); "" for a name of punctuation."""
    decomposed = unicodedata.normalize("NFKD", name).casefold()
    out: list[str] = []
    base_has_case = False
    pending_space = False
    for char in unicodedata.normalize("NFKD", decomposed):
        category = unicodedata.category(char)
        if category[0] == "M":
            if not base_has_case:
                out.append(char)
            continue
        if char in _APOSTROPHES:
            continue
        if category[0] in "PSZ" or category == "Cc":
            pending_space = bool(out)
            base_has_case = False
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        base_has_case = _has_case(char)
        out.append(_LATIN_EXTRAS.get(char, char))
    return unicodedata.normalize("NFC", "".join(out))


def same_name(stored: str, typed: str) -> bool:
    """Whether ``typed`` is ``stored`` exactly, up to Unicode normalisation and surrounding or
    repeated spaces: the comparison kept after a folded match, to tell a clerk whether a result
    is the name as typed or only spelled alike."""

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).split())

    return norm(stored) == norm(typed)


def folded_match(
    stored_name: str, stored_birth: date | None, typed_name: str, typed_birth: date | None
) -> bool:
    """Whether a record found through the blind index is the one searched for, checked in clear
    once the record is open: the index of a row not yet re-indexed was computed with an older
    folding, and this keeps every result to the one rule of the current folding."""
    return stored_birth == typed_birth and fold_name(stored_name) == fold_name(typed_name)
