"""What every counter view shares: the acting staff member, and the one way a refused service
call shows on a page (next to the form's fields, or as a flash message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from urllib.parse import urlsplit

from flask import current_app, flash
from flask_login import current_user

from ...extensions import db
from ...services import Actor, ServiceError
from ...services.errors import InsufficientDocumentsError, NotFoundError, ValidationError
from ..form_base import FlaskForm
from ..labels import shortfall_message

T = TypeVar("T")
K = TypeVar("K")
FormT = TypeVar("FormT", bound=FlaskForm)


def staff_actor() -> Actor:
    return Actor.staff(int(current_user.id))


def required_text(data: str | None) -> str:
    """The data of a DataRequired text field once its form validated: a string, never None."""
    return cast(str, data)


def refuse(exc: ServiceError, form: FlaskForm | None = None) -> None:
    """The counter's one way of showing a domain error on a page: the messages next to the
    fields of `form` they concern (atop it when no field is named), or, without a form, as an
    error flash on the page the view goes to next. Error pages are views/errors.py's."""
    discard(exc)
    if form is None:
        flash(str(exc.message), "error")
    else:
        _apply_errors(form, exc)


def perform(call: Callable[[], object], form: FlaskForm | None = None) -> bool:
    """One service call: True once it is done, False once its refusal is shown by refuse() (next
    to the fields of `form`, or as a flash). A NotFoundError goes on to the 404 page instead."""
    try:
        call()
    except NotFoundError:
        raise
    except ServiceError as exc:
        refuse(exc, form)
        return False
    return True


def attempt(call: Callable[[], T], form: FlaskForm | None = None) -> T | None:
    """perform() for a call whose result the view needs: that result, or None once refused."""
    results: list[T] = []
    return results[0] if perform(lambda: results.append(call()), form) else None


@dataclass(frozen=True)
class RowForms(Generic[K, FormT]):
    """A table with one `form` per row, told apart by the field-name prefix `{prefix}{key}`:
    the page that shows the forms and the view that receives one use the same prefix."""

    form: type[FormT]
    prefix: str

    def submitted(self, key: K) -> FormT:
        """The form of row `key`, filled from the request."""
        return self.form(prefix=f"{self.prefix}{key}")

    def context(
        self, name: str, keys: Iterable[K], failed: tuple[K, FormT] | None
    ) -> dict[str, Any]:
        """Template variables: the forms by row key (as `name`), plus failed_row()'s. The row
        whose submission failed (`failed`: its key and form) keeps its form, errors and all."""
        forms = {
            key: failed[1]
            if failed and failed[0] == key
            else self.form(formdata=None, prefix=f"{self.prefix}{key}")
            for key in keys
        }
        return {name: forms, **failed_row(failed)}


def failed_row(failed: tuple[K, FlaskForm] | None) -> dict[str, Any]:
    """Template variables of a page with a form per table row, after one row's submission failed
    (`failed`: that row's key and form): its form for the error summary atop the page
    (`failed_forms`) and the row to show open (`open_row`); neither when nothing failed."""
    return {
        "failed_forms": [failed[1]] if failed else [],
        "open_row": failed[0] if failed else None,
    }


def discard(exc: ServiceError) -> None:
    """A service refused: it wrote nothing, so drop whatever the session still holds. Only the
    error's code is logged: its message may quote what was typed."""
    db.session.rollback()
    current_app.logger.info("counter: service refused with %s", exc.code)


def _apply_errors(form: FlaskForm, exc: ServiceError) -> None:
    """Put a domain error's messages next to the fields they concern (or atop the form)."""
    fields: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        fields = dict(exc.errors)
    elif isinstance(exc, InsufficientDocumentsError):
        # The categories that are short and by how much, in the words of the live meter.
        fields = {
            "documents": shortfall_message(exc.extra.get("points"), exc.extra.get("minimums"))
        }
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


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never send a signed-in clerk to another host.

    No control characters either: a CR or LF cannot go into a Location header (and a raw one
    would split the response)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
