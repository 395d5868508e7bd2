"""What every API view shares: bearer-token authentication with the endpoint's role, the acting
token, the JSON body, and the JSON shape of a card.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import g, request
from flask_babel import gettext as _

from ..extensions import db
from ..models import Card
from ..services import Actor, utcnow
from ..services import cards as card_service
from ..services.errors import AuthenticationError
from ..services.staff import role_allows
from ..services.tokens import authenticate_token
from .problems import ApiProblem
from .tokenchecks import check_scope_and_rate

F = TypeVar("F", bound=Callable[..., Any])


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


def token_actor() -> Actor:
    actor: Actor = g.api_actor
    return actor


def json_body() -> dict[str, Any]:
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


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def card_json(card: Card) -> dict[str, Any]:
    return {
        "number": card.number,
        # As the counter shows it: a valid card past its expiry is "expired".
        "status": card_service.display_status(card, utcnow()),
        "status_reason": card.status_reason,
        "issued_at": iso(card.issued_at),
        "expires": card.expires_at.date().isoformat(),
        "resident_id": card.resident_id,
        "kid": card.kid,
    }
