"""Forms of sign-in's second step, the second-factor set-up and the password change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from .form_base import FlaskForm, PlainText, password_field, plain_text_field, strip_text


def _code_field(label: str, description: str, *, recovery: bool) -> StringField:
    """A one-time code: the digits of the authenticator app or, where `recovery` codes are
    accepted too, one of those (longer, with letters: typed as it is, no capital letter and no
    spelling check)."""
    render_kw = {"autocomplete": "one-time-code", "inputmode": "text" if recovery else "numeric"}
    if recovery:
        render_kw |= {"autocapitalize": "none", "spellcheck": "false"}
    return plain_text_field(
        label,
        required=_l("Enter the code."),
        max_length=40 if recovery else 12,
        too_long=_l("This code is too long."),
        description=description,
        render_kw=render_kw,
    )


class CodeForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = _code_field(
        _l("Code"),
        _l("The 6 digits your authenticator app shows, or one of your recovery codes."),
        recovery=True,
    )


class TotpConfirmForm(FlaskForm):
    """Proves the authenticator app is set up: only its code will do."""

    code = _code_field(
        _l("Code from the app"),
        _l("Enter the 6 digits the app shows now, to prove it is set up."),
        recovery=False,
    )


class PasskeyForm(FlaskForm):
    """Carries the browser's WebAuthn answer (filled in by webauthn.js) and a name."""

    name = StringField(
        _l("Name of the key"),
        filters=[strip_text],
        description=_l("So you can tell your keys apart, e.g. 'blue key' or 'office laptop'."),
        validators=[Length(max=64, message=_l("This name is too long.")), PlainText()],
    )
    credential = HiddenField()


class NewPasswordForm(FlaskForm):
    """The forced change at first sign-in: the password was checked a moment ago."""

    password = password_field(
        _l("New password"),
        description=_l(
            "At least 12 characters. A few unrelated words make a strong password that is easy "
            "to remember."
        ),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the new password again.")),
            EqualTo("password", message=_l("The two new passwords differ.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class PasswordChangeForm(NewPasswordForm):
    current_password = password_field(
        _l("Current password"),
        required=_l("Enter your current password."),
        autocomplete="current-password",
    )
