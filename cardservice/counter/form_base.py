"""What every counter form is built from: the FlaskForm base (Flask-WTF: every POST form
carries a CSRF token), its field factories and checks, and ActionForm for a bare button.

The forms check the *shape* of what a clerk typed (present, not absurdly long, no invisible
control or bidi-override characters, a real date) so the clerk gets a message next to the
field in their own language. The *rules* (city policy minimums, photo re-encoding, name
normalisation, duplicates) belong to the services, whose domain errors the views map back
onto these fields. The forms themselves are grouped by area: resident_forms, staff_forms,
security_forms and reauth_forms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField

# types-WTForms (3.2) predates WTForms 3.3: it has no SelectChoice and no invalid_value_message or
# invalid_choice_message argument, hence the "type: ignore" comments on those in the forms.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..i18n import LANGUAGE_NAMES, LANGUAGES
from ..services.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH

if TYPE_CHECKING:
    from wtforms import Form

    class FlaskForm(Form):
        """What mypy should know of Flask-WTF's FlaskForm, which ships no type information (it
        would be Any, and every form here an untyped subclass): a wtforms Form plus these."""

        def is_submitted(self) -> bool: ...
        def validate_on_submit(self, extra_validators: Any = None) -> bool: ...

else:
    from flask_wtf import FlaskForm

# Characters that make a name display differently from what it contains (Trojan Source):
# embeddings, overrides and isolates. Zero-width joiners stay allowed: several scripts need them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_forbidden_characters(text: str, *, allow_newlines: bool = False) -> bool:
    for char in text:
        if char in _BIDI_CONTROLS:
            return True
        if unicodedata.category(char) == "Cc" and not (allow_newlines and char in "\r\n"):
            return True
    return False


def strip_text(value: Any) -> Any:
    """A filter: the text without surrounding white space (other values as they are)."""
    return value.strip() if isinstance(value, str) else value


class PlainText:
    """Refuses control and bidi-override characters (they hide what a name really says)."""

    def __init__(self, *, allow_newlines: bool = False) -> None:
        self.allow_newlines = allow_newlines

    def __call__(self, form: FlaskForm, field: Any) -> None:
        if field.data and _has_forbidden_characters(field.data, allow_newlines=self.allow_newlines):
            raise ValidationError(
                _l("Remove the invisible control or text-direction characters from this field.")
            )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def plain_text_field(
    label: str,
    *,
    required: str,
    max_length: int,
    too_long: str,
    description: str = "",
    render_kw: dict[str, Any] | None = None,
) -> StringField:
    """The counter's one-line text input: stripped, required, capped at `max_length`, and free
    of control and bidi-override characters (PlainText)."""
    return StringField(
        label,
        filters=[strip_text],
        description=description,
        validators=[DataRequired(required), Length(max=max_length, message=too_long), PlainText()],
        render_kw=render_kw,
    )


def password_field(
    label: str,
    *,
    description: str = "",
    required: str = _l("Enter a password."),
    autocomplete: str = "new-password",
) -> PasswordField:
    """A password input, capped at the staff service's own limit so an oversized one is refused
    next to the field before it is ever hashed (the service checks the same bound)."""
    return PasswordField(
        label,
        description=description,
        validators=[
            DataRequired(required),
            Length(max=MAX_PASSWORD_LENGTH, message=_l("This password is too long.")),
        ],
        render_kw={"autocomplete": autocomplete},
    )


class ActionForm(FlaskForm):
    """A button that changes state: carries nothing but the CSRF token."""


def language_name(code: str) -> str:
    """A language's own name (autonym), so the person can recognise it whatever the UI language."""
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code


def language_choices(languages: Iterable[str] = LANGUAGES) -> list[SelectChoice]:
    return [SelectChoice(code, language_name(code)) for code in languages]


def counter_language_field(description: str = "") -> SelectField:
    """A staff member's language for the counter screens; empty follows the browser."""
    return SelectField(
        _l("Language of the counter screens"),
        description=description,
        choices=lambda: [SelectChoice("", _l("Browser language")), *language_choices()],
        validators=[Optional()],
        invalid_choice_message=_l("Choose one of the listed languages."),  # type: ignore[call-arg]
    )


def choices(pairs: Iterable[tuple[str, Any]]) -> list[SelectChoice]:
    return [SelectChoice(value, text) for value, text in pairs]
