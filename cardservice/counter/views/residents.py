"""A resident's page (their record and cards, with the forms of the card actions) and erasure on
request.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ...extensions import db
from ...services import cardprinter, cardrules, deps, utcnow
from ...services import cards as card_service
from ...services import erasure as erasure_service
from ...services import residents as resident_service
from ...services.errors import NotFoundError
from ..blueprint import bp
from ..form_base import ActionForm
from ..labels import REASON_LABELS, label
from ..resident_forms import ErasureForm, ReasonForm
from ..roles import requires
from .base import failed_row, staff_actor


def _reason_choices(codes: Iterable[str]) -> list[tuple[str, str]]:
    return [(code, label(REASON_LABELS, code)) for code in codes]


REASON_FIELD_LABELS = {
    "replace": _l("Reason for the replacement"),
    "suspend": _l("Reason for the suspension"),
    "revoke": _l("Reason for the revocation"),
}


def card_reason_form(
    action: str, number: str, codes: Iterable[str], data: Any = None
) -> ReasonForm:
    # A prefix per card keeps every field id unique on a page listing several cards. Forms only
    # rendered get formdata=None: they must not parse (or re-parse) the request body.
    return ReasonForm(
        formdata=data,
        prefix=f"{action}-{number}",
        reasons=_reason_choices(codes),
        label=REASON_FIELD_LABELS[action],
    )


def render_resident(
    resident_id: str,
    *,
    failed: tuple[str, str, ReasonForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    now = utcnow()
    view = resident_service.view_resident(
        db.session, deps(), resident_id, now=now, actor=staff_actor()
    )
    cards: list[dict[str, Any]] = []
    rules = cardrules.Rules.of(deps().policy)
    forms: dict[str, dict[str, ReasonForm]] = {"replace": {}, "suspend": {}, "revoke": {}}
    reasons = {
        "replace": card_service.REPLACE_REASONS,
        "suspend": card_service.SUSPEND_REASONS,
        "revoke": card_service.REVOKE_REASONS,
    }
    for card in view.cards:
        cards.append(
            {
                "number": card.number,
                "status": card.status,
                "display_status": card_service.display_status(card, now),
                "status_reason": card.status_reason,
                "issued_at": card.issued_at,
                "expires_at": card.expires_at,
                "last_printed_at": card.last_printed_at,
                # Only what the card allows now is offered (services.cardrules).
                "actions": cardrules.possible_actions(card, now=now, rules=rules),
                "renewable_from": cardrules.renewable_from(card, now=now, rules=rules),
            }
        )
        for action, codes in reasons.items():
            if failed and failed[0] == action and failed[1] == card.number:
                forms[action][card.number] = failed[2]
            else:
                forms[action][card.number] = card_reason_form(action, card.number, codes)
    photo_url = None
    if view.photo:
        photo_url = "data:image/jpeg;base64," + base64.b64encode(view.photo).decode("ascii")
    duplicates = [d for d in request.args.getlist("dup") if len(d) == 32 and d.isalnum()]
    return (
        render_template(
            "counter/resident.html",
            resident=view,
            photo_url=photo_url,
            cards=cards,
            replace_forms=forms["replace"],
            suspend_forms=forms["suspend"],
            revoke_forms=forms["revoke"],
            **failed_row((failed[1], failed[2]) if failed else None),
            action_form=ActionForm(formdata=None),
            duplicates=duplicates,
            # issue_card's own rule (services.cardrules): one live card at a time.
            has_live_card=cardrules.has_live_card(view.cards, now),
            print_now=request.args.get("print"),
            card_printer=cardprinter.printer_configured(deps()),
        ),
        status,
    )


def resident_of_card(number: str) -> str | None:
    try:
        return card_service.get_card(db.session, number).resident_id
    except NotFoundError:
        return None


@bp.route("/residents/<resident_id>")
@requires("clerk")
def resident(resident_id: str) -> Any:
    return render_resident(resident_id)


@bp.route("/residents/<resident_id>/erase", methods=["GET", "POST"])
@requires("supervisor")
def erase(resident_id: str) -> Any:
    form = ErasureForm()
    if form.validate_on_submit():
        revoked = erasure_service.erase_resident(
            db.session, deps(), resident_id, now=utcnow(), actor=staff_actor()
        )
        flash(
            ngettext(
                "The record is deleted and %(num)d card was revoked.",
                "The record is deleted and %(num)d cards were revoked.",
                len(revoked),
            ),
            "success",
        )
        return redirect(url_for("counter.dashboard"))
    view = resident_service.view_resident(
        db.session, deps(), resident_id, now=utcnow(), actor=staff_actor()
    )
    status = 422 if form.errors else 200
    return render_template("counter/erase.html", form=form, resident=view), status
