"""Card PDF rendering: the CR80 card, the A4 office sheet, and streaming batches.

Public interface::

    PrintableCard(...)   # what one card shows; its fields are in _render.py, checked there
    render_card_pdf(card, *, layout="card") -> bytes
    render_batch(cards, out, *, layout="a4", progress=None) -> int   # number rendered
    unsupported_characters(text) -> str   # characters no shipped font can draw
    preload_fonts() -> None                # load the fonts now (else on first use, ~0.5 s)
    InvalidCardError(ValueError)           # raised by PrintableCard() and the renderers

Layouts:

- ``"card"``: for card printers. Two pages, front then back, each the CR80 card (85.60 x 53.98
  mm) plus 2 mm of bleed on every side; the TrimBox marks the card itself, the BleedBox the page.
- ``"a4"``: for office printers. Front and back side by side at true size with cut marks; a
  batch puts four cards on each A4 sheet.

The front's band says whose card it is and what it is: the city name, the card's title under
it, the issuer code on the right. Then the photo (or a neutral silhouette when there is none),
the holder's name, birth date and gender marker (each only when present), the card number and
the expiry date, under short bilingual labels. The holder's data (name, dates, gender marker,
number) and the QR code are pure black (DeviceGray 0), so a card printer's driver sends them to
the resin black panel, which a solvent or a scratch does not lift (docs/operations.md, "Card
printers"). The back carries the card's title in its top band, the QR code (34 mm, vector
squares, error correction M, alphanumeric mode), the card number, and a notice in French,
English, Spanish, Portuguese and Arabic that the card is issued to residents and says nothing
about immigration status. No empty band: the foot strips of both faces are gone.
Text that does not fit shrinks to a minimum size, then wraps to two lines
(the holder's name to up to four, see ``fit_holder_name``), then is shortened with an ellipsis:
it never overflows its box.

Names print in any script the shipped fonts cover (``fonts/``: Noto Sans for Latin, Greek and
Cyrillic, Noto Sans Arabic, Hebrew, Armenian, Georgian, Ethiopic, Devanagari, Bengali, Tamil,
Malayalam, Gujarati, Gurmukhi, Telugu, Kannada, Oriya, Sinhala, Thai, Lao, Khmer, Myanmar,
Droid Sans Fallback for Han and kana, Nanum Gothic for Hangul): per-script font fallback,
bidi reordering and HarfBuzz shaping (see ``_text``). The fonts are embedded, subset, once per
PDF; the app never depends on system fonts.

Batches stream: each page is written to ``out`` as soon as it is finished and only object
offsets are kept, so memory stays flat (about 130 MB for 10,000 cards with photos); fonts and
the static artwork of each face are embedded once per PDF. From 64 cards on, the QR codes are
encoded in a helper process (``python _qr.py``) while this one draws.

No personal data goes into the PDF metadata. Rendering is thread-safe.
"""

from ._fonts import preload as preload_fonts
from ._layout import fit_holder_name
from ._render import InvalidCardError, Layout, PrintableCard, render_batch, render_card_pdf
from ._text import unsupported_characters


def holder_name_fits(name: str) -> bool:
    """Whether the card prints ``name`` whole in its box (no ellipsis)."""
    return not fit_holder_name(name).cut


__all__ = [
    "InvalidCardError",
    "Layout",
    "PrintableCard",
    "holder_name_fits",
    "preload_fonts",
    "render_batch",
    "render_card_pdf",
    "unsupported_characters",
]
