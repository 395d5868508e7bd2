"""Errors of the JSON API as RFC 9457 problem details (application/problem+json).

Every 4xx and 5xx under /api/ comes out in this shape, with a translated title, a stable
machine-readable ``code`` and no traceback or echo of the input.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from ..i18n import problem_title

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"

# Stable codes a client can switch on; the title is for people.
_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    411: "length_required",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
}


class ApiProblem(HTTPException):
    """Raised by API views: carries a status, a machine code and an optional translated detail."""

    def __init__(self, status: int, code: str | None = None, detail: str | None = None) -> None:
        super().__init__(description=detail)
        self.code = status
        self.problem_code = code or _CODES.get(status, "error")
        self.detail = detail


def problem_response(
    status: int, *, code: str | None = None, detail: str | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem_title(status),
        "status": status,
        "code": code or _CODES.get(status, "error"),
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    return response


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _handle_http(exc: HTTPException) -> Response | HTTPException:
    if not _is_api_request():
        return exc  # pages keep Flask's (or their blueprint's) own error rendering
    status = exc.code or 500
    if isinstance(exc, ApiProblem):
        response = problem_response(status, code=exc.problem_code, detail=exc.detail)
    else:
        # Werkzeug's descriptions are English and sometimes echo details: use our own titles.
        response = problem_response(status)
    # Keep what the exception's own response carries that clients need (Allow, Retry-After).
    for header in ("Allow", "Retry-After"):
        original = exc.get_headers() if exc.response is None else exc.response.headers
        for name, value in original:
            if name == header:
                response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    # Also catches unhandled exceptions: Flask wraps them in InternalServerError (a 500 with no
    # detail), after logging them.
    app.register_error_handler(HTTPException, _handle_http)
