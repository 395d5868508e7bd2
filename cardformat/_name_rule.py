"""What a holder name may hold, as data (docs/card-format.md section 3.2).

The definitions the Unicode 14.0 tables of ``_unicode14`` are generated from
(scripts/unicode14_tables.py), kept apart from the checking code so that the generator needs
nothing else of the package.
"""

from __future__ import annotations

# The general categories refused in names, in Unicode 14.0: controls (Cc), format characters
# (Cf: invisible, and the bidi controls that make a name read differently from its bytes),
# surrogates (Cs), private use (Co), unassigned (Cn, so that NFC cannot depend on the Unicode
# version) and the line and paragraph separators (Zl, Zp).
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# The two format characters some scripts need inside words (Persian ZWNJ, Indic ZWJ).
ALLOWED_FORMAT_CHARACTERS = frozenset("\u200c\u200d")
# Markup and query metacharacters: no name uses them, and refusing them keeps pasted HTML,
# templates or SQL out of every issuer's records and every verifier's display.
FORBIDDEN_SYMBOLS = frozenset('"$*;<=>[\\]^`{|}~')
# The Arabic ligatures of whole words and phrases (honorifics, the basmala, Koranic stop signs,
# the rial sign): a name spelled with them does not match the same name spelled in letters, and
# U+FDFD is 7.9 em wide, wider than any card's name box holds 33 times over.
FORBIDDEN_WORD_LIGATURES = ((0xFD40, 0xFD4F), (0xFDCF, 0xFDCF), (0xFDF0, 0xFDFF))
# Combining marks (Mn, Mc, Me): a name holds at most MAX_MARK_RUN of them in a row, so that no
# letter carries a stack of marks taller than a line (UAX #15's stream-safe format bounds the
# same runs at 30, far more than any orthography needs).
MARK_CATEGORIES = frozenset({"Mn", "Mc", "Me"})
MAX_MARK_RUN = 4
