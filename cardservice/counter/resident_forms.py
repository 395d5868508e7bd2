"""Forms of the residents' pages: the two searches, enrolment and correction of a record, the
reason of a card action, and the erasure confirmation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

# types-WTForms (3.2) predates WTForms 3.3: it has no SelectChoice and no invalid_value_message or
# invalid_choice_message argument, hence the "type: ignore" comments on those below.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from ..i18n import LANGUAGES
from .form_base import (
    FlaskForm,
    MultiCheckboxField,
    PlainText,
    choices,
    language_choices,
    plain_text_field,
    strip_text,
)


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


class EnrolmentForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        filters=[strip_text],
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
        filters=[strip_text],
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
