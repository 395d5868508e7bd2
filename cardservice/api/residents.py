"""Residents: enrol (with the photo as base64), read (audited), erase."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Any

from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..ratelimit import limiter, on_search_breach, search_key, search_limit
from ..services import deps, utcnow
from ..services import erasure as erasure_service
from ..services import residents as resident_service
from ..services.errors import ValidationError
from ..services.lookups import look_up_resident
from ..services.namefold import same_name
from .base import card_json, iso, json_body, requires, token_actor
from .blueprint import bp
from .problems import ApiProblem

_DATA_URL = re.compile(r"data:image/(?:jpeg|png);base64,", re.IGNORECASE)


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


@bp.post("/residents")
@requires("clerk")
def create_resident() -> tuple[Response, int, dict[str, str]]:
    body = json_body()
    unknown = set(body) - {
        "display_name",
        "birth_date",
        "gender_marker",
        "address",
        "preferred_language",
        "photo",
        "documents",
        "confirm_duplicate",
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
    confirm = body.get("confirm_duplicate", False)
    if not isinstance(confirm, bool):
        raise ValidationError({"confirm_duplicate": _("confirm_duplicate is true or false.")})
    result = resident_service.enrol_resident(
        db.session, deps(), data, now=utcnow(), actor=token_actor(), confirm_duplicate=confirm
    )
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


@bp.get("/residents")
@requires("clerk")
@limiter.limit(search_limit, key_func=search_key, on_breach=on_search_breach)
def search_residents() -> Response:
    """For integrations: the residents with this name (folded: case, accents and punctuation
    do not matter) and birth date. Audited like a counter search (the count, never the query)
    and rate-limited per token. Answers only ids, whether the name is exactly as typed, and
    the cards: the caller knows the name and birth date already, and opens a record (one more
    audited read) only when it needs the rest."""
    name = request.args.get("name", "")
    raw_birth = request.args.get("birth_date", "")
    birth: date | None = None
    if raw_birth:
        try:
            birth = date.fromisoformat(raw_birth) if len(raw_birth) == 10 else None
        except ValueError:
            birth = None
        if birth is None:
            raise ValidationError(
                {"birth_date": _("The birth date must be a date written YYYY-MM-DD.")}
            )
    if len(name) > 400:
        raise ValidationError({"name": _("The name is too long.")})
    found = resident_service.search_residents(
        db.session, deps(), display_name=name, birth_date=birth, now=utcnow(), actor=token_actor()
    )
    return jsonify(
        results=[
            {
                "id": view.id,
                "exact_name": same_name(view.display_name, name),
                "created_at": iso(view.created_at),
                "cards": [card_json(card) for card in view.cards],
            }
            for view in found
        ]
    )


@bp.get("/residents/<resident_id>")
@requires("clerk")
def get_resident(resident_id: str) -> Response:
    view = look_up_resident(db.session, deps(), resident_id, now=utcnow(), actor=token_actor())
    return jsonify(
        id=view.id,
        display_name=view.display_name,
        birth_date=view.birth_date.isoformat() if view.birth_date else None,
        gender_marker=view.gender_marker,
        address=view.address,
        preferred_language=view.preferred_language,
        photo=base64.b64encode(view.photo).decode("ascii") if view.photo else None,
        created_at=iso(view.created_at),
        cards=[card_json(card) for card in view.cards],
    )


@bp.delete("/residents/<resident_id>")
@requires("supervisor")
def erase_resident(resident_id: str) -> Response:
    revoked = erasure_service.erase_resident(
        db.session, deps(), resident_id, now=utcnow(), actor=token_actor()
    )
    return jsonify(id=resident_id, erased=True, revoked_cards=revoked)
