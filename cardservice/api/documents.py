"""Public and reference documents: the OpenAPI description and the city's enrolment policy."""

from __future__ import annotations

from flask import Response, jsonify

from ..services import deps
from .base import requires
from .blueprint import bp
from .openapi import openapi_document


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
