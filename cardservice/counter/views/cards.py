"""Card actions: issue, print, renew, replace, suspend, revoke, reinstate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from ...extensions import db
from ...printing import Layout, render_card_pdf
from ...services import ServiceError, deps, utcnow
from ...services import cards as card_service
from ...services.errors import NotFoundError
from ..blueprint import bp
from ..roles import requires
from .base import service_refused, staff_actor
from .residents import card_reason_form, render_resident, resident_of_card


def _card_redirect(number: str) -> WerkzeugResponse:
    """Back to the page of the card's holder (the search resolves a number to it)."""
    return redirect(url_for("counter.dashboard", number=number))


@bp.route("/residents/<resident_id>/cards", methods=["POST"])
@requires("clerk")
def issue(resident_id: str) -> Any:
    try:
        issued = card_service.issue_card(
            db.session, deps(), resident_id, now=utcnow(), actor=staff_actor()
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
    else:
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
    try:
        printable = card_service.print_card(
            db.session,
            deps(),
            number,
            now=utcnow(),
            actor=staff_actor(),
            reprint=request.args.get("reprint") == "1",
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
        return _card_redirect(number)
    pdf = render_card_pdf(printable, layout=layout)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="card-{printable.number}-{layout}.pdf"'
    )
    return response


@bp.route("/cards/<number>/renew", methods=["POST"])
@requires("clerk")
def renew(number: str) -> Any:
    try:
        renewed = card_service.renew_card(
            db.session, deps(), number, now=utcnow(), actor=staff_actor()
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
    else:
        flash(
            _(
                "Card %(number)s is renewed until %(date)s. Print it again.",
                number=renewed.number,
                date=format_date(renewed.expires_at, "long"),
            ),
            "success",
        )
    return _card_redirect(number)


def _reason_action(action: str, number: str, codes: Iterable[str], call: Any) -> Any:
    """Shared shape of replace, suspend and revoke: a reason code, one service call."""
    form = card_reason_form(action, number, codes, request.form)
    if not form.validate():
        resident_id = resident_of_card(number)
        if resident_id is None:
            abort(404)
        return render_resident(resident_id, failed=(action, number, form), status=422)
    try:
        result = call(form.reason.data)
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
        return _card_redirect(number)
    return result


@bp.route("/cards/<number>/replace", methods=["POST"])
@requires("supervisor")
def replace(number: str) -> Any:
    def call(reason: str) -> Any:
        issued = card_service.replace_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=staff_actor()
        )
        flash(
            _(
                "Card %(old)s is revoked. The new card is %(new)s: print it now.",
                old=number.upper(),
                new=issued.number,
            ),
            "success",
        )
        return _card_redirect(issued.number)

    return _reason_action("replace", number, card_service.REPLACE_REASONS, call)


@bp.route("/cards/<number>/suspend", methods=["POST"])
@requires("supervisor")
def suspend(number: str) -> Any:
    def call(reason: str) -> Any:
        card = card_service.suspend_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=staff_actor()
        )
        flash(_("Card %(number)s is suspended.", number=card.number), "success")
        return _card_redirect(card.number)

    return _reason_action("suspend", number, card_service.SUSPEND_REASONS, call)


@bp.route("/cards/<number>/revoke", methods=["POST"])
@requires("supervisor")
def revoke(number: str) -> Any:
    def call(reason: str) -> Any:
        card = card_service.revoke_card(
            db.session, deps(), number, reason=reason, now=utcnow(), actor=staff_actor()
        )
        flash(_("Card %(number)s is revoked for good.", number=card.number), "success")
        return _card_redirect(card.number)

    return _reason_action("revoke", number, card_service.REVOKE_REASONS, call)


@bp.route("/cards/<number>/reinstate", methods=["POST"])
@requires("supervisor")
def reinstate(number: str) -> Any:
    try:
        card = card_service.reinstate_card(
            db.session, deps(), number, now=utcnow(), actor=staff_actor()
        )
    except NotFoundError:
        raise
    except ServiceError as exc:
        service_refused(exc)
        flash(str(exc.message), "error")
    else:
        flash(_("Card %(number)s is valid again.", number=card.number), "success")
    return _card_redirect(number)
