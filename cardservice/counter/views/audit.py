"""Supervision: the audit log, its integrity check, and statistics."""

from __future__ import annotations

from typing import Any, cast

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

import cardformat

from ...extensions import db
from ...services import audit as audit_service
from ...services import staff as staff_service
from ...services import stats as stats_service
from ...services import utcnow
from ..blueprint import bp
from ..roles import requires

AUDIT_PAGE_SIZE = 50


MAX_DB_INT = 2**31 - 1


@bp.route("/audit")
@requires("supervisor")
def audit() -> Any:
    card_filter = (request.args.get("card") or "").strip()[:20] or None
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before <= MAX_DB_INT:
        before = None  # out of any id's range (PostgreSQL would refuse to compare)
    filter_error = None
    number = None
    if card_filter:
        try:
            number = cardformat.normalize_card_number(card_filter)
        except cardformat.MalformedError:
            filter_error = _("This is not a valid card number.")
    entries = []
    if filter_error is None:
        entries = audit_service.list_entries(
            db.session, card_number=number, before_id=before, limit=AUDIT_PAGE_SIZE + 1
        )
    has_more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    usernames = {user.id: user.username for user in staff_service.list_users(db.session)}
    return render_template(
        "counter/audit.html",
        entries=entries,
        card_filter=card_filter,
        filter_error=filter_error,
        before=before,
        next_before=entries[-1].id if has_more and entries else None,
        actor_label=lambda entry: _actor_label(entry, usernames),
    ), (422 if filter_error else 200)


@bp.route("/audit/verify")
@requires("supervisor")
def audit_verify() -> Any:
    """Recompute the hash chain: an edited, inserted or deleted entry shows up here."""
    problems = audit_service.verify_chain(db.session)
    if problems:
        flash(
            ngettext(
                "The audit log fails its integrity check: %(num)d problem found. Tell the "
                "administrator at once.",
                "The audit log fails its integrity check: %(num)d problems found. Tell the "
                "administrator at once.",
                len(problems),
            ),
            "error",
        )
    else:
        flash(_("The audit log is intact: no entry was edited, inserted or deleted."), "success")
    return redirect(url_for("counter.audit"))


@bp.route("/statistics")
@requires("supervisor")
def statistics() -> Any:
    figures = stats_service.statistics(db.session, now=utcnow())
    return render_template("counter/statistics.html", figures=figures)


def _actor_label(entry: Any, usernames: dict[int, str]) -> str:
    if entry.staff_id is not None and entry.staff_id in usernames:
        return usernames[entry.staff_id]
    kind, _sep, ident = str(entry.actor).partition(":")
    if kind == "token":
        return cast(str, _("API token %(id)s", id=ident))
    if kind == "system":
        return cast(str, _("System (%(command)s)", command=ident))
    return str(entry.actor)
