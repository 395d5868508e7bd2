"""Forms of sign-in's second step, the second-factor set-up and the password change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from .forms import FlaskForm, PlainText, _strip


class CodeForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code"),
        filters=[_strip],
        description=_l("The 6 digits your authenticator app shows, or one of your recovery codes."),
        validators=[
            DataRequired(_l("Enter the code.")),
            Length(max=40, message=_l("This code is too long.")),
            PlainText(),
        ],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "text",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )


class TotpConfirmForm(FlaskForm):
    code = StringField(
        _l("Code from the app"),
        filters=[_strip],
        description=_l("Enter the 6 digits the app shows now, to prove it is set up."),
        validators=[
            DataRequired(_l("Enter the code.")),
            Length(max=12, message=_l("This code is too long.")),
            PlainText(),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasskeyForm(FlaskForm):
    """Carries the browser's WebAuthn answer (filled in by webauthn.js) and a name."""

    name = StringField(
        _l("Name of the key"),
        filters=[_strip],
        description=_l("So you can tell your keys apart, e.g. 'blue key' or 'office laptop'."),
        validators=[Length(max=64, message=_l("This name is too long.")), PlainText()],
    )
    credential = HiddenField()


class NewPasswordForm(FlaskForm):
    """The forced change at first sign-in: the password was checked a moment ago."""

    password = PasswordField(
        _l("New password"),
        description=_l(
            "At least 12 characters. A few unrelated words make a strong password that is easy "
            "to remember."
        ),
        validators=[
            DataRequired(_l("Enter a password.")),
            Length(max=1024, message=_l("This password is too long.")),
        ],
        render_kw={"autocomplete": "new-password"},
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
    current_password = PasswordField(
        _l("Current password"),
        validators=[
            DataRequired(_l("Enter your current password.")),
            Length(max=1024, message=_l("This password is too long.")),
        ],
        render_kw={"autocomplete": "current-password"},
    )
