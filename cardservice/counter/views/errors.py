"""Error pages of the counter: HTTP errors and the domain errors no view maps itself."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ...services import ServiceError
from ...services.errors import (
    AuditUnavailableError,
    CityNotInitialisedError,
    MasterKeyUnavailableError,
    NotFoundError,
)
from ..blueprint import bp
from .base import discard
from .enrolment import enrolment_form, render_enrol


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("counter/error.html", title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        _("The form expired"),
        _("For your security, forms expire. Go back, reload the page and submit again."),
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    message = _("The upload is too large. Use a smaller photo (a JPEG or PNG of a few megabytes).")
    if request.endpoint == "counter.enrol" and current_user.is_authenticated:
        # The body was not read, so the typed fields are lost; say so next to the photo field.
        form = enrolment_form(formdata=None)
        form.photo.errors = [message]
        form.form_errors.append(
            _("Nothing was saved. Fill in the form again with a smaller photo.")
        )
        return render_enrol(form, 413)
    return _error_page(413, _("Upload too large"), message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    titles = {
        403: (_("Not allowed"), _("Your role does not allow this page or action.")),
        404: (_("Not found"), _("This page does not exist, or the record was deleted.")),
        405: (_("Not allowed"), _("This address does not accept this kind of request.")),
        429: (_("Too many attempts"), _("Wait a moment, then try again.")),
    }
    title, message = titles.get(status, (_("Something went wrong"), _("Try again.")))
    return _error_page(status, title, message)


# Domain errors that reach an error page, most specific first: (class, HTTP status, title).
_REFUSAL_PAGES: tuple[tuple[type[ServiceError], int, Any], ...] = (
    (NotFoundError, 404, _l("Not found")),
    (CityNotInitialisedError, 503, _l("The city is not set up yet")),
    # The service has logged the master key id for the operator; staff get what to do.
    (MasterKeyUnavailableError, 503, _l("This record cannot be opened right now")),
    # The record was read but its audit entry could not be written: nothing of it is shown.
    (AuditUnavailableError, 503, _l("This record cannot be shown right now")),
)


@bp.errorhandler(ServiceError)
def _refusal_page(exc: ServiceError) -> tuple[str, int]:
    """The counter's one error page for a domain error: those of the table above, and any a
    view does not show in its own page (views/base.py's refuse)."""
    discard(exc)
    for kind, status, title in _REFUSAL_PAGES:
        if isinstance(exc, kind):
            return _error_page(status, str(title), str(exc.message))
    return _error_page(exc.status if 400 <= exc.status < 500 else 500, _("Error"), str(exc.message))
