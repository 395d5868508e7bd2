"""Cards: issue, print (PDF), read, revoke."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..services import cards as card_service
from ..services import deps, utcnow
from ..services.errors import ValidationError
from ..services.lookups import look_up_card
from .base import card_json, iso, json_body, requires, token_actor
from .blueprint import bp
from .problems import ApiProblem


@bp.post("/residents/<resident_id>/cards")
@requires("clerk")
def issue_card(resident_id: str) -> tuple[Response, int, dict[str, str]]:
    issued = card_service.issue_card(
        db.session, deps(), resident_id, now=utcnow(), actor=token_actor()
    )
    return (
        jsonify(
            number=issued.number,
            expires=issued.expires_at.date().isoformat(),
            qr=issued.qr,
            issued_at=iso(issued.issued_at),
        ),
        201,
        {"Location": url_for("api.get_card", number=issued.number)},
    )


@bp.get("/cards/<number>.pdf")
@requires("clerk")
def card_pdf(number: str) -> Response:
    requested = request.args.get("layout", "card")
    if requested not in ("card", "a4"):
        raise ValidationError({"layout": _("The layout is card or a4.")})
    layout: Literal["card", "a4"] = "a4" if requested == "a4" else "card"
    printable = card_service.print_card(
        db.session, deps(), number, now=utcnow(), actor=token_actor()
    )
    from ..printing import InvalidCardError, render_card_pdf

    try:
        pdf = render_card_pdf(printable, layout=layout)
    except InvalidCardError:
        raise ApiProblem(
            422, "not_printable", _("This card cannot be printed: correct the holder's data first.")
        ) from None
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="card-{printable.number}.pdf"'},
    )


@bp.get("/cards/<number>")
@requires("clerk")
def get_card(number: str) -> Response:
    return jsonify(card_json(look_up_card(db.session, number, now=utcnow(), actor=token_actor())))


@bp.post("/cards/<number>/revoke")
@requires("supervisor")
def revoke_card(number: str) -> Response:
    body = json_body()
    card = card_service.revoke_card(
        db.session, deps(), number, reason=body.get("reason"), now=utcnow(), actor=token_actor()
    )
    return jsonify(card_json(card))
