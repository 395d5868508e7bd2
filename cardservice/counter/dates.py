"""Dates in the staff UI: the UI's language, the city's conventions (services.citystyle).

Every date and time a counter page shows goes through these, so one page never mixes styles
("12/4/26" beside "Dec 4, 2026") and an English UI in a French city writes "4 Dec 2026".
"""

from __future__ import annotations

from datetime import date, datetime

from babel import Locale
from flask import current_app
from flask_babel import get_timezone
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..i18n import current_language
from ..models import City
from ..services import deps
from ..services.citystyle import city_territory, date_locale, format_day, format_moment

_CACHE_KEY = "cardservice.city_code"


def _city_code() -> str | None:
    # The city's code never changes once set up (init-city refuses a second city): read once.
    code: str | None = current_app.extensions.get(_CACHE_KEY)
    if code is None:
        try:
            code = db.session.scalar(select(City.code).limit(1))
        except SQLAlchemyError:
            db.session.rollback()
            return None
        if code is not None:
            current_app.extensions[_CACHE_KEY] = code
    return code


def ui_locale() -> Locale:
    """The locale dates are written in on this request's pages."""
    return date_locale(current_language(), city_territory(_city_code(), deps().city_locale))


def day(value: date | datetime | None) -> str:
    """A day, in the city's style ("4 Dec 2026" for an English UI in France)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(get_timezone())
    return format_day(value, ui_locale())


def moment(value: datetime | None) -> str:
    """A day and a time to the minute, in the staff UI's time zone."""
    if value is None:
        return ""
    return format_moment(value, ui_locale(), get_timezone())
