"""RFC 9457 problem details."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, json

PROBLEM_MIMETYPE = "application/problem+json"


class ApiProblem(Exception):
    """A refusal the API answers as problem+json (api/errors.py turns it into the response)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem_response(
    status: int,
    *,
    code: str,
    detail: str | None = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response. `type` stays about:blank, so `title` is the HTTP status phrase;
    the stable machine-readable reason is the `code` extension member."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cardservice"'
    if isinstance(extra.get("retry_after"), int):
        response.headers["Retry-After"] = str(extra["retry_after"])
    return response
