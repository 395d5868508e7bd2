"""Card actions: issue, print, renew, replace, suspend, revoke, reinstate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from ...extensions import db
from ...printing import Layout, render_card_pdf
from ...services import cardprinter, deps, utcnow
from ...services import cards as card_service
from .. import dates
from ..blueprint import bp
from ..roles import requires
from .base import attempt, staff_actor
from .residents import card_reason_form, render_resident, resident_of_card

T = TypeVar("T")


# What each card action says once done, from the card number (or resident) it was asked for
# and what the service returned: every action is one service call and one such message.
_DONE: dict[str, Callable[[str, Any], str]] = {
    "issue": lambda resident_id, card: _(
        "Card %(number)s is issued. Print it and hand it to the person.", number=card.number
    ),
    "card_to_printer": lambda number, sent: _(
        "Card %(number)s is sent to the card printer (job %(job)d).", number=number, job=sent.job_id
    ),
    "renew": lambda number, card: _(
        "Card %(number)s is renewed until %(date)s. Print it again.",
        number=card.number,
        date=dates.day(card.expires_at),
    ),
    "replace": lambda number, issued: _(
        "Card %(old)s is revoked. The new card is %(new)s: print it now.",
        old=number.upper(),
        new=issued.number,
    ),
    "suspend": lambda number, card: _("Card %(number)s is suspended.", number=card.number),
    "revoke": lambda number, card: _("Card %(number)s is revoked for good.", number=card.number),
    "reinstate": lambda number, card: _("Card %(number)s is valid again.", number=card.number),
}


def _change(change: Callable[..., T], target: str, action: str = "", **options: Any) -> T | None:
    """A card service change of `target` (a card number, or the resident a card is issued to)
    by the signed-in staff member, now: its result, with the `action`'s message (_DONE) flashed
    when it has one, or None once its refusal is flashed."""
    result = attempt(
        lambda: change(db.session, deps(), target, now=utcnow(), actor=staff_actor(), **options)
    )
    if result is not None and action in _DONE:
        flash(_DONE[action](target, result), "success")
    return result


def _card_redirect(number: str) -> WerkzeugResponse:
    """Back to the page of the card's holder (the search resolves a number to it)."""
    return redirect(url_for("counter.dashboard", number=number))


@bp.route("/residents/<resident_id>/cards", methods=["POST"])
@requires("clerk")
def issue(resident_id: str) -> Any:
    _change(card_service.issue_card, resident_id, "issue")
    return redirect(url_for("counter.resident", resident_id=resident_id))


@bp.route("/cards/<number>/<any(card, a4):layout>.pdf")
@requires("clerk")
def card_pdf(number: str, layout: Layout) -> Any:
    printable = _change(card_service.print_card, number, reprint=request.args.get("reprint") == "1")
    if printable is None:
        return _card_redirect(number)
    pdf = render_card_pdf(printable, layout=layout)
    response = Response(pdf, mimetype="application/pdf")
    disposition = "inline" if request.args.get("inline") == "1" else "attachment"
    response.headers["Content-Disposition"] = (
        f'{disposition}; filename="card-{printable.number}-{layout}.pdf"'
    )
    if disposition == "inline":
        # The resident page prints the card from a frame of its own (counter.js): this one
        # response may be framed, by the app itself only.
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; frame-ancestors 'self'; object-src 'self'; "
            "img-src 'self' data:; style-src 'unsafe-inline'"
        )
    return response


@bp.route("/cards/<number>/printer", methods=["POST"])
@requires("clerk")
def card_to_printer(number: str) -> Any:
    """Send the card to the counter's card printer over IPP (services.cardprinter)."""
    reprint = request.form.get("reprint") == "1"
    _change(cardprinter.send_to_printer, number, "card_to_printer", reprint=reprint)
    return _card_redirect(number)


@bp.route("/cards/<number>/renew", methods=["POST"])
@requires("clerk")
def renew(number: str) -> Any:
    _change(card_service.renew_card, number, "renew")
    return _card_redirect(number)


# Replace, suspend and revoke take a reason code from the action's list too. Each is registered
# as its own endpoint below.
_REASON_ACTIONS: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "replace": (card_service.REPLACE_REASONS, card_service.replace_card),
    "suspend": (card_service.SUSPEND_REASONS, card_service.suspend_card),
    "revoke": (card_service.REVOKE_REASONS, card_service.revoke_card),
}


def _reason_action(action: str, number: str) -> Any:
    codes, change = _REASON_ACTIONS[action]
    form = card_reason_form(action, number, codes, request.form)
    if not form.validate():
        resident_id = resident_of_card(number)
        if resident_id is None:
            abort(404)
        return render_resident(resident_id, failed=(action, number, form), status=422)
    result = _change(change, number, action, reason=form.reason.data)
    return _card_redirect(number if result is None else result.number)


def _register_reason_action(action: str) -> None:
    def view(number: str) -> Any:
        return _reason_action(action, number)

    view.__name__ = action
    bp.add_url_rule(
        f"/cards/<number>/{action}",
        endpoint=action,
        view_func=requires("supervisor")(view),
        methods=["POST"],
    )


for _action in _REASON_ACTIONS:
    _register_reason_action(_action)


@bp.route("/cards/<number>/reinstate", methods=["POST"])
@requires("supervisor")
def reinstate(number: str) -> Any:
    _change(card_service.reinstate_card, number, "reinstate")
    return _card_redirect(number)
