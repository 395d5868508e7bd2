"""Error pages of the counter: HTTP errors and the domain errors no view maps itself."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
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
from .base import service_refused
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


@bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError) -> tuple[str, int]:
    service_refused(exc)
    return _error_page(404, _("Not found"), str(exc.message))


@bp.errorhandler(CityNotInitialisedError)
def _no_city(exc: CityNotInitialisedError) -> tuple[str, int]:
    service_refused(exc)
    return _error_page(503, _("The city is not set up yet"), str(exc.message))


@bp.errorhandler(MasterKeyUnavailableError)
def _master_key_unavailable(exc: MasterKeyUnavailableError) -> tuple[str, int]:
    # The service has logged the master key id for the operator; staff get what to do.
    service_refused(exc)
    return _error_page(503, _("This record cannot be opened right now"), str(exc.message))


@bp.errorhandler(AuditUnavailableError)
def _audit_unavailable(exc: AuditUnavailableError) -> tuple[str, int]:
    # The record was read but its audit entry could not be written: nothing of it is shown.
    service_refused(exc)
    return _error_page(503, _("This record cannot be shown right now"), str(exc.message))


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> tuple[str, int]:
    # Reached only when a view does not map an error itself.
    service_refused(exc)
    return _error_page(exc.status if 400 <= exc.status < 500 else 500, _("Error"), str(exc.message))
