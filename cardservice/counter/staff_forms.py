"""Forms of staff accounts: signing in, a member's own language, and the administrators'
pages (creating an account, resetting its password, revoking a signing key)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField

# types-WTForms (3.2) predates WTForms 3.3: it has no SelectChoice and no invalid_choice_message
# argument, hence the "type: ignore" comments on those below.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import InputRequired

from .form_base import FlaskForm, counter_language_field, password_field, plain_text_field


def _username_field(
    *, required: str, max_length: int, autocomplete: str, description: str = ""
) -> StringField:
    """A staff member's user name, typed as it is: no capital letter, no spelling check."""
    return plain_text_field(
        _l("Username"),
        required=required,
        max_length=max_length,
        too_long=_l("This username is too long."),
        description=description,
        render_kw={"autocomplete": autocomplete, "autocapitalize": "none", "spellcheck": "false"},
    )


class LoginForm(FlaskForm):
    username = _username_field(
        required=_l("Enter your username."), max_length=80, autocomplete="username"
    )
    password = password_field(
        _l("Password"), required=_l("Enter your password."), autocomplete="current-password"
    )
    next = HiddenField()


class StaffCreateForm(FlaskForm):
    username = _username_field(
        required=_l("Enter a username."),
        max_length=64,
        autocomplete="off",
        description=_l("2 to 64 letters, digits, dots, dashes or underscores."),
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
