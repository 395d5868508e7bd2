"""Signing in and out, and the signed-in staff member's own settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ...extensions import db
from ...ratelimit import limiter, login_limit, on_login_breach
from ...services import ServiceError, authentication, utcnow
from ...services import staff as staff_service
from ..blueprint import bp
from ..device_cookie import presented
from ..roles import ANONYMOUS, requires
from ..staff_forms import AccountLanguageForm, LoginForm
from .base import attempt, refuse, required_text, safe_next, staff_actor
from .second_factor import after_password


@bp.route("/login", methods=["GET", "POST"])
@requires(ANONYMOUS)
# Per client address, POSTs only; a breach is a 429 through _http_error's translated page.
@limiter.limit(login_limit, methods=["POST"], on_breach=on_login_breach)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("counter.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if request.method == "POST" and not current_app.config["LOCAL_PASSWORDS"]:
        # Local passwords are switched off: only single sign-on signs anyone in.
        form.form_errors.append(_("Sign in with the city's account."))
    elif form.validate_on_submit():
        config = current_app.config
        # A browser that signed this account in before has a lockout of its own.
        device = presented()
        try:
            user = authentication.authenticate(
                db.session,
                username=required_text(form.username.data),
                password=required_text(form.password.data),
                now=utcnow(),
                max_failed=int(config["MAX_FAILED_LOGINS"]),
                lockout=timedelta(minutes=int(config["LOCKOUT_MINUTES"])),
                steps_follow=True,
                device=device,
            )
        except ServiceError as exc:
            # One message for unknown user, wrong password and locked account, on purpose.
            refuse(exc, form)
        else:
            # Second factor, its set-up, a forced password change: views/second_factor.py.
            return after_password(user, safe_next(form.next.data), device)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("counter/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@requires("clerk")
def logout() -> Any:
    # The global CSRFProtect has checked the token: a forged link cannot sign anyone out.
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("counter.login"))


@bp.route("/account", methods=["GET", "POST"])
@requires("clerk")
def account() -> Any:
    """Every signed-in role: the staff member's own settings (the counter's language)."""
    form = AccountLanguageForm()
    status = 200
    if request.method == "GET":
        form.language.data = current_user.preferred_language or ""
    elif form.validate_on_submit():
        saved = attempt(
            lambda: staff_service.set_preferred_language(
                db.session,
                user_id=int(current_user.id),
                language=form.language.data or None,
                now=utcnow(),
                actor=staff_actor(),
            ),
            form,
        )
        if saved is not None:
            # Redirect, so the next page is rendered in the new language from the start.
            flash(_("Your language is saved."), "success")
            return redirect(url_for("counter.account"))
        status = 422
    else:
        status = 422
    return render_template("counter/account.html", form=form), status
