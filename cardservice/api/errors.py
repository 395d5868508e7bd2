"""Errors of the API as RFC 9457 problem+json responses."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..extensions import db
from ..services import ServiceError
from ..services.duplicates import PossibleDuplicateError
from ..services.errors import InsufficientDocumentsError, ValidationError
from .blueprint import bp
from .problems import ApiProblem, problem_response


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
    elif isinstance(exc, PossibleDuplicateError):
        extra = {"candidates": exc.candidates}
    return problem_response(
        exc.status, code=exc.code, detail=str(exc.message), errors=errors, **extra
    )
