"""Forms of the counter UI (Flask-WTF: every POST form carries a CSRF token).

The forms check the *shape* of what a clerk typed (present, not absurdly long, no invisible
control or bidi-override characters, a real date) so the clerk gets a message next to the
field in their own language. The *rules* (city policy minimums, photo re-encoding, name
normalisation, duplicates) belong to the services, whose domain errors the views map back
onto these fields.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

# types-WTForms (3.2) predates WTForms 3.3: it has no SelectChoice and no invalid_value_message or
# invalid_choice_message argument, hence the "type: ignore" comments on those below.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
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


def _strip(value: Any) -> Any:
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
        filters=[_strip],
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


class LoginForm(FlaskForm):
    username = plain_text_field(
        _l("Username"),
        required=_l("Enter your username."),
        max_length=80,
        too_long=_l("This username is too long."),
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = password_field(
        _l("Password"), required=_l("Enter your password."), autocomplete="current-password"
    )
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes state: carries nothing but the CSRF token."""


class NumberSearchForm(FlaskForm):
    """Search by card number is a read-only GET (no CSRF token, nothing to forge). Card numbers
    may appear in URLs and logs; names and birth dates never do (see PersonSearchForm)."""

    class Meta:
        csrf = False

    number = plain_text_field(
        _l("Card number"),
        required=_l("Enter a card number."),
        max_length=20,
        too_long=_l("A card number has 7 characters and a dash."),
        description=_l("For example 7KQ2-MX4 (dash and case do not matter)."),
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )


class PersonSearchForm(FlaskForm):
    """Search by name and birth date is a POST: personal data must not end up in URLs, browser
    history or access logs."""

    display_name = plain_text_field(
        _l("Name"),
        required=_l("Enter the name to search for."),
        max_length=200,
        too_long=_l("This name is too long to search for."),
        render_kw={"autocomplete": "off"},
    )
    birth_date = DateField(
        _l("Birth date"),
        validators=[InputRequired(_l("Enter the birth date."))],
        format="%Y-%m-%d",
        invalid_value_message=_l("Enter the date as year, month and day, e.g. 1990-04-27."),  # type: ignore[call-arg]
    )


# WTForms 3.3 deprecates (value, label) tuples: choices are SelectChoice objects throughout.
GENDER_CHOICES: list[SelectChoice] = [
    SelectChoice("", _l("Not shown")),
    SelectChoice("F", _l("F (female)")),
    SelectChoice("M", _l("M (male)")),
    SelectChoice("X", _l("X (another gender, or not specified)")),
]


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


class EnrolmentForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        filters=[_strip],
        description=_l(
            "The name the person uses and wants printed on the card. "
            "It does not have to match an identity document."
        ),
        validators=[
            DataRequired(_l("Enter the name to print on the card.")),
            PlainText(),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    birth_date = DateField(
        _l("Birth date"),
        format="%Y-%m-%d",
        validators=[Optional()],
        invalid_value_message=_l("Enter the date as year, month and day, e.g. 1990-04-27."),  # type: ignore[call-arg]
    )
    gender_marker = RadioField(
        _l("Gender marker on the card"),
        choices=GENDER_CHOICES,
        default="",
        description=_l("Chosen by the person. No proof is asked for."),
        validators=[Optional()],
        invalid_choice_message=_l("Choose one of the listed options."),  # type: ignore[call-arg]
    )
    address = TextAreaField(
        _l("Address"),
        filters=[_strip],
        description=_l(
            "People without an address are welcome: leave this empty. "
            "The card is issued without one."
        ),
        validators=[
            Optional(),
            PlainText(allow_newlines=True),
        ],
        render_kw={"rows": 3, "autocomplete": "off"},
    )
    preferred_language = SelectField(
        _l("Preferred language"),
        choices=[],
        validators=[InputRequired(_l("Choose a language."))],
        invalid_choice_message=_l("Choose one of the listed languages."),  # type: ignore[call-arg]
    )
    photo = FileField(
        _l("Photo"),
        description=_l("A JPEG or PNG file, or take the photo with the camera below."),
        validators=[
            FileAllowed(["jpg", "jpeg", "png"], _l("The photo must be a JPEG or PNG image.")),
        ],
        render_kw={"accept": "image/jpeg,image/png"},
    )
    # The photo of a submission that came back with errors, as the clean JPEG the server made
    # of it (base64): browsers never re-fill a file input, and a clerk must not have to take the
    # photo twice. It comes back from the browser like any upload and is checked again.
    kept_photo = HiddenField()
    # Set by the clerk who saw the possible duplicates and confirms this is another person.
    confirm_duplicate = HiddenField()
    documents = MultiCheckboxField(
        _l("Documents seen"),
        choices=[],
        validate_choice=True,
        invalid_choice_message=_l("Choose only among the listed document categories."),  # type: ignore[call-arg]
    )

    def __init__(
        self,
        *args: Any,
        document_choices: Iterable[tuple[str, str]] = (),
        languages: Iterable[str] = LANGUAGES,
        photo_required: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.photo_required = photo_required
        self.documents.choices = choices(document_choices)
        self.preferred_language.choices = language_choices(languages)

    def validate_photo(self, field: Any) -> None:
        # A correction may keep the current photo; an enrolment needs one.
        if not field.data and not self.kept_photo_bytes() and self.photo_required:
            raise ValidationError(_l("Add a photo: upload a file or take one with the camera."))

    def kept_photo_bytes(self) -> bytes | None:
        """The kept photo's bytes, or None (none kept, or not base64: then it is ignored and
        the form asks for a photo)."""
        raw = self.kept_photo.data
        if not raw or not isinstance(raw, str):
            return None
        try:
            return base64.b64decode(raw, validate=True) or None
        except (ValueError, binascii.Error):
            return None

    def photo_bytes(self) -> bytes | None:
        """The photo to use: a newly chosen file wins over the kept one."""
        if self.photo.data:
            data: bytes = self.photo.data.read()
            self.photo.data.seek(0)
            return data
        return self.kept_photo_bytes()


class ReasonForm(FlaskForm):
    """Revoke, suspend or replace: the reason is a code from the service's list (the audit log
    stores codes, never free text, so no personal detail can slip into it)."""

    reason = SelectField(
        _l("Reason"),
        choices=[],
        validators=[InputRequired(_l("Choose the reason: it goes into the audit log."))],
        invalid_choice_message=_l("Choose one of the listed reasons."),  # type: ignore[call-arg]
    )

    def __init__(
        self,
        *args: Any,
        reasons: Iterable[tuple[str, Any]] = (),
        label: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if label is not None:
            self.reason.label.text = label
        self.reason.choices = [SelectChoice("", _l("Choose a reason…")), *choices(reasons)]

    def validate_reason(self, field: Any) -> None:
        if not field.data:
            raise ValidationError(_l("Choose the reason: it goes into the audit log."))


class ErasureForm(FlaskForm):
    confirm = BooleanField(
        _l(
            "The person asked for their record to be deleted, and I have told them "
            "their cards stop working."
        ),
        validators=[DataRequired(_l("Tick the box to confirm the deletion."))],
    )


class StaffCreateForm(FlaskForm):
    username = plain_text_field(
        _l("Username"),
        required=_l("Enter a username."),
        max_length=64,
        too_long=_l("This username is too long."),
        description=_l("2 to 64 letters, digits, dots, dashes or underscores."),
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = password_field(
        _l("Initial password"),
        description=_l("At least 12 characters. Give it to the person in private."),
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("clerk", _l("Clerk")),
            SelectChoice("supervisor", _l("Supervisor")),
            SelectChoice("admin", _l("Administrator")),
        ],
        validators=[InputRequired(_l("Choose a role."))],
        invalid_choice_message=_l("Choose one of the listed roles."),  # type: ignore[call-arg]
    )
    language = counter_language_field()


class AccountLanguageForm(FlaskForm):
    """A staff member's own language choice ("My account")."""

    language = counter_language_field(
        description=_l("Leave it on the browser language to follow your browser's setting.")
    )


class PasswordResetForm(FlaskForm):
    password = password_field(
        _l("New password"),
        description=_l("At least 12 characters. Setting it also unlocks the account."),
    )


class KeyRevokeForm(FlaskForm):
    """Revoking a signing key breaks every card it signed: the admin types the key id."""

    kid = plain_text_field(
        _l("Type the key id to confirm"),
        required=_l("Type the key id to confirm."),
        max_length=40,
        too_long=_l("A key id has 16 characters."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
