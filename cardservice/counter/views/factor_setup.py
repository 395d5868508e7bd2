"""Setting up a second factor (an authenticator app, a passkey or security key) and the forced
password change: at first sign-in (a pending sign-in, views.second_factor) or later from "My
account" (a signed-in session). The same pages serve both; only where they lead next differs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import qrcode
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from qrcode.image.svg import SvgPathImage

from ...extensions import db
from ...services import ServiceError, deps, utcnow
from ...services import mfa as mfa_service
from ...services import passkeys as passkey_service
from ...services import passwords as password_service
from ...services.errors import ValidationError
from ..blueprint import bp
from ..roles import ANONYMOUS, requires
from ..security_forms import NewPasswordForm, PasskeyForm, PasswordChangeForm, TotpConfirmForm
from .base import refuse
from .second_factor import (
    _mark,
    actor_of,
    continue_sign_in,
    passkey_answer,
    passkey_options,
    pending,
)


def _who() -> tuple[int, dict[str, Any] | None] | None:
    """(account, None) signed in (step-up guards these pages then: account_security), or
    (account, pending state) in a sign-in whose account has no second factor yet. A pending
    sign-in of an account that has one proves it first: enrolling another would bypass it."""
    if current_user.is_authenticated:
        return int(current_user.id), None
    found = pending()
    if found is None:
        return None
    state, user = found
    if not state["mfa"] and mfa_service.status(db.session, user.id).any:
        return None
    return user.id, state


def _elsewhere() -> Any:
    return continue_sign_in() if pending() is not None else redirect(url_for("counter.login"))


def _qr_data_uri(text: str) -> str:
    """The otpauth URI as an SVG QR code, inline (the CSP allows data: images, no script)."""
    image = qrcode.make(text, image_factory=SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _enrol_page(
    user_id: int,
    *,
    totp_form: TotpConfirmForm | None = None,
    passkey_form: PasskeyForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    factors = mfa_service.status(db.session, user_id)
    setup = None
    if not factors.totp:
        setup = mfa_service.pending_totp(db.session, deps(), user_id=user_id)
        if setup is None:
            setup = mfa_service.begin_totp(db.session, deps(), user_id=user_id, now=utcnow())
    options = passkey_options("create", user_id)
    return render_template(
        "counter/signin_enrol.html",
        setup=setup,
        qr=_qr_data_uri(setup.uri) if setup else None,
        totp_form=totp_form or TotpConfirmForm(formdata=None),
        passkey_form=passkey_form or PasskeyForm(formdata=None),
        options=options,
        first_sign_in=not current_user.is_authenticated,
    ), status


def _after_enrolment(codes: list[str], signing_in: bool) -> Any:
    if not codes:
        if signing_in:
            return continue_sign_in()
        flash(_("The second factor is added."), "success")
        return redirect(url_for("counter.account_security"))
    return render_template("counter/recovery_codes.html", codes=codes, signing_in=signing_in), 200


@bp.route("/login/enrol", methods=["GET"])
@requires(ANONYMOUS)
def signin_enrol() -> Any:
    who = _who()
    if who is None:
        return _elsewhere()
    return _enrol_page(who[0])


def _enrol(
    form: TotpConfirmForm | PasskeyForm, method: str, add: Callable[[int], list[str]]
) -> Any:
    """One factor's enrolment: `add` registers it for the account once `form` validated, and
    returns the recovery codes to show; `method` is what it proves in a pending sign-in."""
    who = _who()
    if who is None:
        return _elsewhere()
    user_id, state = who
    if form.validate_on_submit():
        try:
            codes = add(user_id)
        except ServiceError as exc:
            refuse(exc, form)
        else:
            if state is not None:
                _mark(state, method)
            return _after_enrolment(codes, state is not None)
    if isinstance(form, TotpConfirmForm):
        return _enrol_page(user_id, totp_form=form, status=422)
    return _enrol_page(user_id, passkey_form=form, status=422)


@bp.route("/login/enrol/totp", methods=["POST"])
@requires(ANONYMOUS)
def signin_enrol_totp() -> Any:
    form = TotpConfirmForm()
    return _enrol(
        form,
        "otp",
        lambda user_id: mfa_service.confirm_totp(
            db.session,
            deps(),
            user_id=user_id,
            code=str(form.code.data),
            now=utcnow(),
            actor=actor_of(user_id),
        ),
    )


@bp.route("/login/enrol/passkey", methods=["POST"])
@requires(ANONYMOUS)
def signin_enrol_passkey() -> Any:
    form = PasskeyForm()

    def add(user_id: int) -> list[str]:
        answer = passkey_answer(form, "create")
        if answer is None:
            raise ValidationError(
                {"credential": _("The security key could not be registered. Try again.")}
            )
        passkey_service.register(
            db.session,
            user_id=user_id,
            name=str(form.name.data or ""),
            now=utcnow(),
            actor=actor_of(user_id),
            **answer,
        )
        codes: list[str] = []
        if mfa_service.status(db.session, user_id).recovery_left == 0:
            codes = mfa_service.new_recovery_codes(
                db.session, user_id=user_id, now=utcnow(), actor=actor_of(user_id)
            )
        return codes

    return _enrol(form, "hwk", add)


@bp.route("/login/password", methods=["GET", "POST"])
@requires(ANONYMOUS)
def signin_password() -> Any:
    """The password an administrator chose is replaced before the first staff page opens."""
    if current_user.is_authenticated:
        return redirect(url_for("counter.account_password"))
    found = pending()
    if found is None:
        return redirect(url_for("counter.login"))
    state, user = found
    factors = mfa_service.status(db.session, user.id)
    if not user.must_change_password or (factors.any and not state["mfa"]):
        return continue_sign_in()  # nothing to change, or the second factor comes first
    form = NewPasswordForm()
    if password_saved(form, user.id):
        return continue_sign_in()
    status = 422 if form.errors or form.form_errors else 200
    return render_template("counter/signin_password.html", form=form), status


def password_saved(form: NewPasswordForm, user_id: int) -> bool:
    """A member's change of their own password, forced here or chosen in "My account": True once
    saved (and said so), False while the form or the service refuses it. The current password
    is checked only where the form asks for it (PasswordChangeForm)."""
    if not form.validate_on_submit():
        return False
    current = str(form.current_password.data) if isinstance(form, PasswordChangeForm) else None
    try:
        password_service.change_own_password(
            db.session, user_id=user_id, current=current, new=str(form.password.data), now=utcnow()
        )
    except ServiceError as exc:
        refuse(exc, form)
        return False
    flash(_("Your new password is saved."), "success")
    return True
