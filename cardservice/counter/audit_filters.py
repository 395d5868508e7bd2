"""The audit page's filters: a card, a staff member, an action and a date range, read from the
query string and checked, so a hand-edited address gives a clear message, never a 500."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _

import cardformat

from .labels import ACTION_LABELS

_RESIDENT_SUBJECT = re.compile(r"^resident:([0-9a-f]{32})$")


@dataclass
class AuditFilters:
    card: str = ""
    staff: str = ""
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    card_number: str | None = None
    staff_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return any((self.card, self.staff, self.action, self.date_from, self.date_to))

    def query(self) -> dict[str, str]:
        """The filters as query parameters, for the pagination links."""
        values = {
            "card": self.card,
            "staff": self.staff,
            "action": self.action,
            "from": self.date_from,
            "to": self.date_to,
        }
        return {key: value for key, value in values.items() if value}


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


def parse(args: Any, *, staff_ids: set[int]) -> AuditFilters:
    filters = AuditFilters(
        card=(args.get("card") or "").strip()[:20],
        staff=(args.get("staff") or "").strip()[:12],
        action=(args.get("action") or "").strip()[:40],
        date_from=(args.get("from") or "").strip()[:10],
        date_to=(args.get("to") or "").strip()[:10],
    )
    if filters.card:
        try:
            filters.card_number = cardformat.normalize_card_number(filters.card)
        except cardformat.MalformedError:
            filters.errors["card"] = _("This is not a valid card number.")
    if filters.staff:
        if filters.staff.isdigit() and int(filters.staff) in staff_ids:
            filters.staff_id = int(filters.staff)
        else:
            filters.errors["staff"] = _("Choose a staff member from the list.")
    if filters.action and filters.action not in ACTION_LABELS:
        filters.errors["action"] = _("Choose an action from the list.")
    start = _day(filters.date_from) if filters.date_from else None
    end = _day(filters.date_to) if filters.date_to else None
    if filters.date_from and start is None:
        filters.errors["from"] = _("Enter the date as year, month and day, e.g. 2026-03-01.")
    if filters.date_to and end is None:
        filters.errors["to"] = _("Enter the date as year, month and day, e.g. 2026-03-01.")
    if start and end and end < start:
        filters.errors["to"] = _("The end of the range is before its start.")
    # Whole days, the end day included; the log's times are UTC, as the page shows them.
    if start:
        filters.since = datetime.combine(start, time.min, UTC)
    if end:
        filters.until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    return filters


def resident_of(subject: str | None) -> str | None:
    """The resident id an audit subject names, for a link to the record (opening it is
    audited like any other read)."""
    match = _RESIDENT_SUBJECT.match(subject or "")
    return match.group(1) if match else None
