"""The dashboard: find a resident by name and birth date, or a card by its number."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...services import ServiceError, deps, utcnow
from ...services import cards as card_service
from ...services import residents as resident_service
from ...services.errors import AuditUnavailableError, NotFoundError
from ...services.namefold import same_name
from ..blueprint import bp
from ..labels import STATUS_LABELS, label
from ..resident_forms import NumberSearchForm, PersonSearchForm
from ..roles import requires
from .base import discard, refuse, required_text, staff_actor


@bp.route("/", methods=["GET", "POST"])
@requires("clerk")
def dashboard() -> Any:
    number_form = NumberSearchForm(request.args)
    person_form = PersonSearchForm(formdata=request.form if request.method == "POST" else None)
    results: list[dict[str, Any]] | None = None
    status = 200
    if request.method == "POST":
        if person_form.validate():
            try:
                found = resident_service.search_residents(
                    db.session,
                    deps(),
                    display_name=required_text(person_form.display_name.data),
                    birth_date=person_form.birth_date.data,
                    now=utcnow(),
                    actor=staff_actor(),
                )
            except AuditUnavailableError:
                raise  # the error page: not a problem with what the clerk typed
            except ServiceError as exc:
                refuse(exc, person_form)
                status = 422
            else:
                results = [
                    {
                        "id": r.id,
                        "display_name": r.display_name,
                        "birth_date": r.birth_date,
                        "card_count": len(r.cards),
                        # Found through the folded name: say when it is not the name as typed.
                        "exact": same_name(r.display_name, person_form.display_name.data or ""),
                    }
                    for r in found
                ]
        else:
            status = 422
    elif "number" in request.args:
        if number_form.validate():
            try:
                card = card_service.get_card(db.session, number_form.number.data)
            except NotFoundError as exc:
                discard(exc)
                number_form.number.errors = [
                    _("No card has this number. Check it, including the last character.")
                ]
                status = 404
            else:
                if card.resident_id is not None:
                    return redirect(url_for("counter.resident", resident_id=card.resident_id))
                flash(
                    _(
                        "Card %(number)s belongs to a record deleted on request (status: "
                        "%(status)s).",
                        number=card.number,
                        status=label(STATUS_LABELS, card_service.display_status(card, utcnow())),
                    ),
                    "warning",
                )
                return redirect(url_for("counter.dashboard"))
        else:
            status = 422
    return render_template(
        "counter/dashboard.html",
        number_form=number_form,
        person_form=person_form,
        results=results,
    ), status
