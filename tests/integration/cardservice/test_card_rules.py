"""services.cardrules (which actions a card allows) and services.citystyle (title, dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from cardservice.models import City
from cardservice.services.cardrules import Rules, possible_actions, renewable_from
from cardservice.services.citystyle import card_title, city_territory, date_locale, format_day

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
RULES = Rules(renewal_window_days=90)


@dataclass
class FakeCard:
    status: str = "valid"
    expires_at: datetime = NOW + timedelta(days=5 * 365)
    resident_id: str | None = "a" * 32


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (FakeCard(), ("print", "replace", "suspend", "revoke")),
        (
            FakeCard(expires_at=NOW + timedelta(days=30)),
            ("print", "renew", "replace", "suspend", "revoke"),
        ),
        (FakeCard(expires_at=NOW - timedelta(days=1)), ("renew", "replace", "suspend", "revoke")),
        (FakeCard(status="suspended"), ("replace", "reinstate", "revoke")),
        (FakeCard(status="revoked"), ()),
        (FakeCard(resident_id=None), ("suspend", "revoke")),
    ],
)
def test_possible_actions(card: FakeCard, expected: tuple[str, ...]) -> None:
    assert possible_actions(card, now=NOW, rules=RULES) == expected


def test_renewable_from_says_when() -> None:
    card = FakeCard()
    assert renewable_from(card, now=NOW, rules=RULES) == card.expires_at - timedelta(days=90)
    assert renewable_from(FakeCard(status="revoked"), now=NOW, rules=RULES) is None


def test_card_title_in_the_city_languages() -> None:
    assert card_title(City(names={"fr": "Strasbourg", "en": "Strasbourg"})) == TITLE_FR_EN
    assert card_title(City(names={"pt": "Lisboa"})) == "Cartão cidadão"
    assert card_title(City(names={"de": "Berlin"})) == "City card"
    assert card_title(City(names={"fr": "S"}), "Carte de la ville") == "Carte de la ville"


TITLE_FR_EN = "Carte citoyenne · City card"


def test_dates_take_the_city_territory() -> None:
    day = date(2026, 12, 4)
    assert format_day(day, date_locale("en", city_territory("FR SXB"))) == "4 Dec 2026"
    assert format_day(day, date_locale("en", city_territory("US NYC"))) == "Dec 4, 2026"
    assert format_day(day, date_locale("fr", city_territory("FR SXB"))) == "4 déc. 2026"
    # A pair CLDR does not know falls back to the language.
    assert str(date_locale("ar", city_territory("FR SXB"))) == "ar"
    # The configured locale's territory wins over the code's.
    assert city_territory("FR SXB", "en_GB") == "GB"
