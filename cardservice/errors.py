"""Error pages and problem+json answers: never a traceback, never a bare 500 page."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from jinja2 import TemplateNotFound
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from . import dbfaults
from .api.problems import problem_response
from .services.errors import ServiceError

log = logging.getLogger("cardservice.errors")


def _wants_problem() -> bool:
    path = request.path
    return path.startswith("/api/") or path.startswith("/.well-known/")


def _html_error(status: int, title: str, detail: str) -> Response:
    try:
        body = render_template(f"errors/{status}.html", title=title, detail=detail)
    except TemplateNotFound:
        try:
            body = render_template("errors/error.html", status=status, title=title, detail=detail)
        except TemplateNotFound:
            body = (
                "<!doctype html><html><head><meta charset='utf-8'>"
                f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
                f"<p>{escape(detail)}</p></body></html>"
            )
    return Response(body, status=status, mimetype="text/html")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if _wants_problem():
            return problem_response(status, code=_http_code(status), detail=exc.description)
        return _html_error(status, exc.name, exc.description or "")

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Any:
        # Reaches here only when a view did not map the error itself.
        if _wants_problem():
            return problem_response(exc.status, code=exc.code, detail=str(exc.message))
        return _html_error(exc.status, _("Error"), str(exc.message))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeoutError)
    def _database_fault(exc: Exception) -> Any:
        if not dbfaults.is_transient(exc):
            return _unexpected(exc)
        dbfaults.rollback()
        retried = dbfaults.retry_read()
        if retried is not None:
            return retried
        dbfaults.log_fault(exc)
        if _wants_problem():
            response = problem_response(
                503,
                code="database_unavailable",
                detail=_(
                    "The database cannot be reached at the moment. Try again in a few seconds."
                ),
            )
        else:
            response = _html_error(503, _("Service briefly unavailable"), "")
        response.headers["Retry-After"] = str(dbfaults.RETRY_AFTER_SECONDS)
        # Never let a proxy or a partner's cache keep the failure in place of the document.
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        _log_unexpected(exc)
        if _wants_problem():
            return problem_response(500, code="internal_error", detail=_("Internal error."))
        # A literal translated title: werkzeug's exception names are English-only.
        return _html_error(500, _("Something went wrong"), _("Internal error."))


def _log_unexpected(exc: Exception) -> None:
    """The traceback goes to the server log only. Services put no personal data into exception
    messages; a database driver's message may (PostgreSQL's "Key (number)=(...) already
    exists" quotes the row, and hide_parameters only hides the statement's parameters), so a
    database error is logged by its class, SQLSTATE, statement and frames, never its text."""
    if not isinstance(exc, DBAPIError):
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return
    original = exc.orig if exc.orig is not None else exc
    sqlstate = getattr(original, "sqlstate", None)
    log.error(
        "unhandled database error on %s %s: %s%s\n[SQL: %s]\n"
        "Traceback (most recent call last):\n%s",
        request.method,
        request.url_rule,
        type(original).__name__,
        f" (SQLSTATE {sqlstate})" if sqlstate else "",
        exc.statement,
        "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
    )


def _http_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        406: "not_acceptable",
        409: "conflict",
        413: "payload_too_large",
        415: "unsupported_media_type",
        422: "invalid_input",
        429: "too_many_requests",
    }.get(status, "error" if status < 500 else "internal_error")
