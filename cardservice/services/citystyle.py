"""How the city presents itself: the card's title in the city's languages, and the locale whose
conventions dates follow in the staff UI.

Dates: one clerk in Strasbourg whose UI is in English must read "4 Dec 2026", not the American
"12/4/26": the UI's language gives the words, the city's country the order of day and month. The
locale is the UI language with the city's territory (``en_FR``) when CLDR has that pair, else
the language alone (``ar``). CARDSERVICE_CITY_LOCALE (e.g. ``fr_FR``) sets the territory
explicitly; without it, the territory is the country of the city's UN/LOCODE ("FR SXB").
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time

from ..models import City

#: The card's title in each language we know it in: what the card is, in a few words. A city
#: whose languages are others sets CARDSERVICE_CARD_TITLE.
CARD_TITLES: dict[str, str] = {
    "fr": "Carte citoyenne",
    "en": "City card",
    "es": "Tarjeta ciudadana",
    "pt": "Cartão cidadão",
    "ar": "بطاقة المدينة",
}
_TITLE_SEPARATOR = " · "
# Two languages fit the band at a legible size; a city of more languages sets its own title.
_TITLE_LANGUAGES = 2


def card_title(city: City, configured: str = "") -> str:
    """The title printed on the card: the configured one, else the built-in titles in the
    city's languages (the languages its names are given in, in that order), at most two, else
    the English one."""
    if configured:
        return configured
    languages = [lang.split("-")[0].split("_")[0] for lang in (city.names or {})]
    titles: list[str] = []
    for lang in languages:
        title = CARD_TITLES.get(lang)
        if title and title not in titles:
            titles.append(title)
    if not titles:
        titles = [CARD_TITLES["en"]]
    return _TITLE_SEPARATOR.join(titles[:_TITLE_LANGUAGES])


def city_territory(city_code: str | None, configured_locale: str = "") -> str | None:
    """The territory whose conventions the city's dates follow: the configured locale's, else
    the country of the city's UN/LOCODE ("FR SXB" -> "FR")."""
    if configured_locale:
        return Locale.parse(configured_locale).territory
    if city_code and len(city_code) >= 2 and city_code[:2].isalpha():
        return city_code[:2].upper()
    return None


@lru_cache(maxsize=64)
def date_locale(language: str, territory: str | None) -> Locale:
    """The UI language with the city's territory when CLDR knows the pair, else the language."""
    if territory:
        try:
            return Locale.parse(f"{language}_{territory}")
        except (ValueError, UnknownLocaleError):
            pass
    return Locale.parse(language)


def format_day(value: date | datetime, locale: Locale, style: str = "medium") -> str:
    """A day in the locale's own style: one style ("medium") everywhere in the UI, so a page
    never mixes "04/12/2026" and "4 Dec 2026"."""
    return babel_format_date(value, style, locale=locale)


def format_moment(value: datetime, locale: Locale, tzinfo: object | None = None) -> str:
    """A day and a time: the day as format_day(), the time to the minute."""
    moment = value.astimezone(tzinfo) if tzinfo is not None else value  # type: ignore[arg-type]
    return (
        f"{babel_format_date(moment, 'medium', locale=locale)} "
        f"{babel_format_time(moment, 'short', locale=locale)}"
    )
