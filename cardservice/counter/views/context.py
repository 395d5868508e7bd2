"""The template context of every counter page: navigation, the city's name, labels and locale-aware
formatting.
"""

from __future__ import annotations

from typing import Any, cast

from flask import request, url_for
from flask_babel import format_number
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ...extensions import db
from ...i18n import current_language
from ...services import keys as key_service
from ...services.errors import CityNotInitialisedError
from .. import dates
from ..blueprint import bp
from ..form_base import ActionForm
from ..labels import (
    ACTION_LABELS,
    KEY_STATE_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    label,
    subject_label,
)
from ..roles import ROLE_LABELS, current_role, has_role

#: Lowest role for each action shown as a button; the views enforce the same via @requires.
ACTION_ROLES = {
    "enrol": "clerk",
    "edit": "clerk",
    "issue": "clerk",
    "renew": "clerk",
    "replace": "supervisor",
    "suspend": "supervisor",
    "reinstate": "supervisor",
    "revoke": "supervisor",
    "erase": "supervisor",
}


@bp.context_processor
def _counter_context() -> dict[str, Any]:
    nav: list[dict[str, Any]] = []
    city_name = None
    if current_user.is_authenticated:
        endpoint = request.endpoint or ""
        entries = [
            ("counter.dashboard", _("Find"), "clerk", ("counter.dashboard", "counter.resident")),
            ("counter.enrol", _("Enrol"), "clerk", ("counter.enrol",)),
            ("counter.audit", _("Audit log"), "supervisor", ("counter.audit",)),
            ("counter.statistics", _("Statistics"), "supervisor", ("counter.statistics",)),
            ("counter.admin_staff", _("Staff"), "admin", ("counter.admin_staff",)),
            ("counter.admin_keys", _("Keys"), "admin", ("counter.admin_keys",)),
            ("counter.admin_tokens", _("API tokens"), "admin", ("counter.admin_tokens",)),
            ("counter.admin_sessions", _("Sessions"), "admin", ("counter.admin_sessions",)),
        ]
        nav = [
            {"url": url_for(target), "label": text, "current": endpoint in current}
            for target, text, role, current in entries
            if has_role(role)
        ]
    try:
        # The city's name is public (it is printed on every card): the login page shows it too.
        city_name = key_service.get_city(db.session).name_in(current_language())
    except (CityNotInitialisedError, SQLAlchemyError):
        # No city yet, or the database is what failed and an error page is being rendered:
        # the page must still render, without the name.
        db.session.rollback()
    return {
        "nav_items": nav,
        "city_name": city_name,
        "logout_form": ActionForm(formdata=None),
        "current_role": current_role,
        "role_label": lambda role: label(ROLE_LABELS, role),
        "status_label": lambda code: label(STATUS_LABELS, code),
        "reason_label": lambda code: label(REASON_LABELS, code),
        "detail_label": _detail_label,
        "action_label": lambda code: label(ACTION_LABELS, code),
        "subject_label": subject_label,
        "key_state_label": lambda code: label(KEY_STATE_LABELS, code),
        "allowed": lambda action: has_role(ACTION_ROLES[action]),
        "format_number": format_number,
        # One date style everywhere, in the city's conventions (counter.dates).
        "format_date": dates.day,
        "format_datetime": dates.moment,
        "format_timestamp": dates.moment,
        "format_birth_date": lambda value: dates.day(value) if value else _("Not given"),
    }


def _detail_label(code: str | None) -> str:
    """Audit details are reason codes, a role (account changes) or "count:N" (a search's number
    of results, a purge's or a rewrap's number of records)."""
    if code in ROLE_LABELS:
        return label(ROLE_LABELS, code)
    if code is not None and code.startswith("count:") and code[6:].isdigit():
        return cast(str, _("Count: %(count)s", count=format_number(int(code[6:]))))
    return label(REASON_LABELS, code)
