"""The issuance JSON API, /api/v1 (DESIGN.md section 6).

Bearer tokens (`cardservice tokens create`), a role per endpoint, errors as RFC 9457
application/problem+json. Views parse input, call one service, and map the result or the domain
error; the OpenAPI 3.1 document at /api/v1/openapi.json describes every endpoint.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from flask import Blueprint, Response, g, jsonify, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..models import Card
from ..services import Actor, ServiceError, deps, utcnow
from ..services import cards as card_service
from ..services import residents as resident_service
from ..services.errors import AuthenticationError, InsufficientDocumentsError, ValidationError
from ..services.lookups import look_up_card, look_up_resident
from ..services.staff import authenticate_token, role_allows
from .openapi import openapi_document
from .problems import problem_response
from .tokenchecks import check_scope_and_rate

bp = Blueprint("api", __name__, url_prefix="/api/v1")

F = TypeVar("F", bound=Callable[..., Any])
_DATA_URL = re.compile(r"data:image/(?:jpeg|png);base64,", re.IGNORECASE)


class ApiProblem(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


@bp.errorhandler(ApiProblem)
def _api_problem(exc: ApiProblem) -> Response:
    return problem_response(exc.status, code=exc.code, detail=exc.detail, **exc.extra)


@bp.errorhandler(ServiceError)
def _service_problem(exc: ServiceError) -> Response:
    # Nothing was written: services commit only on success; drop whatever the session holds.
    db.session.rollback()
    errors = None
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        errors = {name: str(message) for name, message in exc.errors.items()}
    elif exc.field:
        errors = {exc.field: str(exc.message)}
    if isinstance(exc, InsufficientDocumentsError):
        extra = {"points": exc.extra.get("points"), "minimums": exc.extra.get("minimums")}
    return problem_response(
        exc.status, code=exc.code, detail=str(exc.message), errors=errors, **extra
    )


def requires(role: str) -> Callable[[F], F]:
    """Bearer-token authentication and the minimum role of an endpoint."""

    def decorator(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]  # read by the role-matrix test

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _sep, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiProblem(401, "invalid_token", _("Invalid or missing API token."))
            try:
                record = authenticate_token(db.session, token.strip(), now=utcnow())
            except AuthenticationError as exc:
                raise ApiProblem(401, exc.code, str(exc.message)) from None
            if not role_allows(record.role, role):
                raise ApiProblem(403, "forbidden", _("Your role does not allow this action."))
            check_scope_and_rate(record)
            g.api_actor = Actor.token(record.id)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _actor() -> Actor:
    actor: Actor = g.api_actor
    return actor


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", _("Send a JSON body (application/json)."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        # Deeply nested JSON exhausts the parser's stack; "silent" only covers ValueError.
        body = None
    if not isinstance(body, dict):
        raise ApiProblem(400, "bad_request", _("The body must be a JSON object."))
    return body


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _card_json(card: Card) -> dict[str, Any]:
    return {
        "number": card.number,
        "status": card.status,
        "status_reason": card.status_reason,
        "issued_at": _iso(card.issued_at),
        "expires": card.expires_at.date().isoformat(),
        "resident_id": card.resident_id,
        "kid": card.kid,
    }


def _decode_photo(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError({"photo": _("The photo must be base64 text.")})
    text = _DATA_URL.sub("", value.strip(), count=1)
    # Refuse an oversized photo before decoding it.
    if len(text) > deps().policy.photo_max_bytes * 4 // 3 + 8:
        raise ApiProblem(
            413,
            "photo_too_large",
            _("The photo is too large."),
            errors={"photo": _("The photo is too large.")},
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError({"photo": _("The photo is not valid base64.")}) from None


@bp.get("/openapi.json")
def openapi() -> Response:
    """Public: the API description (no data in it)."""
    return jsonify(openapi_document(deps().public_url))


@bp.get("/policy")
@requires("clerk")
def policy() -> Response:
    from flask_babel import get_locale

    locale = get_locale()
    return jsonify(deps().policy.as_public_dict(locale.language if locale else None))


@bp.post("/residents")
@requires("clerk")
def create_resident() -> tuple[Response, int, dict[str, str]]:
    body = _json_body()
    unknown = set(body) - {
        "display_name",
        "birth_date",
        "gender_marker",
        "address",
        "preferred_language",
        "photo",
        "documents",
    }
    if unknown:
        # Strict on purpose: a client sending e.g. a document number must learn it is refused.
        raise ApiProblem(
            422,
            "unknown_field",
            _("Unknown fields: %(fields)s", fields=", ".join(sorted(unknown))[:200]),
        )
    data = resident_service.EnrolmentInput(
        display_name=body.get("display_name"),
        birth_date=body.get("birth_date"),
        gender_marker=body.get("gender_marker"),
        address=body.get("address"),
        preferred_language=body.get("preferred_language"),
        photo=_decode_photo(body.get("photo")),
        documents=body.get("documents", []),
    )
    result = resident_service.enrol_resident(db.session, deps(), data, now=utcnow(), actor=_actor())
    location = url_for("api.get_resident", resident_id=result.resident_id)
    return (
        jsonify(
            id=result.resident_id,
            points=result.points.by_kind,
            minimums=result.points.minimums,
            possible_duplicate=bool(result.possible_duplicates),
            message=_("Enrolled. Hand the documents back to the resident."),
        ),
        201,
        {"Location": location},
    )


@bp.get("/residents/<resident_id>")
@requires("clerk")
def get_resident(resident_id: str) -> Response:
    view = look_up_resident(db.session, deps(), resident_id, now=utcnow(), actor=_actor())
    return jsonify(
        id=view.id,
        display_name=view.display_name,
        birth_date=view.birth_date.isoformat() if view.birth_date else None,
        gender_marker=view.gender_marker,
        address=view.address,
        preferred_language=view.preferred_language,
        photo=base64.b64encode(view.photo).decode("ascii") if view.photo else None,
        created_at=_iso(view.created_at),
        cards=[_card_json(card) for card in view.cards],
    )


@bp.delete("/residents/<resident_id>")
@requires("supervisor")
def erase_resident(resident_id: str) -> Response:
    revoked = resident_service.erase_resident(
        db.session, deps(), resident_id, now=utcnow(), actor=_actor()
    )
    return jsonify(id=resident_id, erased=True, revoked_cards=revoked)


@bp.post("/residents/<resident_id>/cards")
@requires("clerk")
def issue_card(resident_id: str) -> tuple[Response, int, dict[str, str]]:
    issued = card_service.issue_card(db.session, deps(), resident_id, now=utcnow(), actor=_actor())
    return (
        jsonify(
            number=issued.number,
            expires=issued.expires_at.date().isoformat(),
            qr=issued.qr,
            issued_at=_iso(issued.issued_at),
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
    printable = card_service.print_card(db.session, deps(), number, now=utcnow(), actor=_actor())
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
    return jsonify(_card_json(look_up_card(db.session, number, now=utcnow(), actor=_actor())))


@bp.post("/cards/<number>/revoke")
@requires("supervisor")
def revoke_card(number: str) -> Response:
    body = _json_body()
    card = card_service.revoke_card(
        db.session, deps(), number, reason=body.get("reason"), now=utcnow(), actor=_actor()
    )
    return jsonify(_card_json(card))
