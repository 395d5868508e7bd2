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


def _change(change: Callable[..., T], target: str, **options: Any) -> T | None:
    """A card service change of `target` (a card number, or the resident a card is issued to)
    by the signed-in staff member, now: its result, or None once its refusal is flashed."""
    return attempt(
        lambda: change(db.session, deps(), target, now=utcnow(), actor=staff_actor(), **options)
    )


def _card_redirect(number: str) -> WerkzeugResponse:
    """Back to the page of the card's holder (the search resolves a number to it)."""
    return redirect(url_for("counter.dashboard", number=number))


@bp.route("/residents/<resident_id>/cards", methods=["POST"])
@requires("clerk")
def issue(resident_id: str) -> Any:
    issued = _change(card_service.issue_card, resident_id)
    if issued is not None:
        flash(
            _(
                "Card %(number)s is issued. Print it and hand it to the person.",
                number=issued.number,
            ),
            "success",
        )
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
    sent = attempt(
        lambda: cardprinter.send_to_printer(
            db.session,
            deps(),
            number,
            now=utcnow(),
            actor=staff_actor(),
            reprint=request.form.get("reprint") == "1",
        )
    )
    if sent is not None:
        flash(
            _(
                "Card %(number)s is sent to the card printer (job %(job)d).",
                number=number,
                job=sent.job_id,
            ),
            "success",
        )
    return _card_redirect(number)


@bp.route("/cards/<number>/renew", methods=["POST"])
@requires("clerk")
def renew(number: str) -> Any:
    renewed = _change(card_service.renew_card, number)
    if renewed is not None:
        flash(
            _(
                "Card %(number)s is renewed until %(date)s. Print it again.",
                number=renewed.number,
                date=dates.day(renewed.expires_at),
            ),
            "success",
        )
    return _card_redirect(number)


# Replace, suspend and revoke share one shape: a reason code from the action's list, one service
# call, a message naming the card it returned. Each is registered as its own endpoint below.
_REASON_ACTIONS: dict[
    str, tuple[tuple[str, ...], Callable[..., Any], Callable[[str, Any], str]]
] = {
    "replace": (
        card_service.REPLACE_REASONS,
        card_service.replace_card,
        lambda number, issued: _(
            "Card %(old)s is revoked. The new card is %(new)s: print it now.",
            old=number.upper(),
            new=issued.number,
        ),
    ),
    "suspend": (
        card_service.SUSPEND_REASONS,
        card_service.suspend_card,
        lambda number, card: _("Card %(number)s is suspended.", number=card.number),
    ),
    "revoke": (
        card_service.REVOKE_REASONS,
        card_service.revoke_card,
        lambda number, card: _("Card %(number)s is revoked for good.", number=card.number),
    ),
}


def _reason_action(action: str, number: str) -> Any:
    codes, change, done = _REASON_ACTIONS[action]
    form = card_reason_form(action, number, codes, request.form)
    if not form.validate():
        resident_id = resident_of_card(number)
        if resident_id is None:
            abort(404)
        return render_resident(resident_id, failed=(action, number, form), status=422)
    result = _change(change, number, reason=form.reason.data)
    if result is None:
        return _card_redirect(number)
    flash(done(number, result), "success")
    return _card_redirect(result.number)


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
    card = _change(card_service.reinstate_card, number)
    if card is not None:
        flash(_("Card %(number)s is valid again.", number=card.number), "success")
    return _card_redirect(number)
