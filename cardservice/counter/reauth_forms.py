"""The form that confirms the signed-in member's password before a sensitive session action."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .form_base import FlaskForm, password_field


class ConfirmPasswordForm(FlaskForm):
    password = password_field(
        _l("Your password"), required=_l("Enter your password."), autocomplete="current-password"
    )
