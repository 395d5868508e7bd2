"""What every counter view shares: the acting staff member, a refused service call, and a domain
error's messages put next to the form fields they concern.
"""

from __future__ import annotations

from typing import Any, cast

from flask import current_app
from flask_login import current_user

from ...extensions import db
from ...services import Actor, ServiceError, utcnow
from ...services.errors import ValidationError
from ..forms import FlaskForm


def staff_actor() -> Actor:
    return Actor.staff(int(current_user.id))


def service_refused(exc: ServiceError) -> None:
    """A service refused: it wrote nothing, so drop whatever the session still holds."""
    db.session.rollback()
    current_app.logger.info("counter: service refused with %s", exc.code)


def required_text(data: str | None) -> str:
    """The data of a DataRequired text field once its form validated: a string, never None."""
    return cast(str, data)


def apply_errors(form: FlaskForm, exc: ServiceError) -> None:
    """Put a domain error's messages next to the fields they concern (or atop the form)."""
    fields: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        fields = dict(exc.errors)
    elif exc.field:
        fields = {exc.field: exc.message}
    if not fields:
        form.form_errors.append(str(exc.message))
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is None or not hasattr(field, "errors"):
            # A field this form does not show (e.g. an API-only one): keep the message visible.
            form.form_errors.append(str(message))
            continue
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        field.errors.append(str(message))


def display_status(card: Any) -> str:
    if card.status == "valid" and card.expires_at <= utcnow():
        return "expired"
    return str(card.status)
