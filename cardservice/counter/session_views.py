"""Staff sessions in the counter: one's own (sign out everywhere) and, for administrators,
everyone's (end one). Thin views over services/sessions.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..extensions import db
from ..services import Actor, ServiceError, utcnow
from ..services import sessions as session_service
from ..services import staff as staff_service
from ..services.oidc import NO_PASSWORD
from . import bp
from .forms import ActionForm
from .reauth_forms import ConfirmPasswordForm
from .roles import requires


def _has_password() -> bool:
    return str(current_user.password_hash) != NO_PASSWORD


def _render_mine(form: ConfirmPasswordForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "counter/sessions.html",
        sessions=session_service.list_sessions(
            db.session, now=utcnow(), staff_id=int(current_user.id)
        ),
        current_id=_current_row_id(),
        action_form=ActionForm(formdata=None),
        confirm_form=form or ConfirmPasswordForm(formdata=None),
        needs_password=_has_password()
        and not session_service.recently_authenticated(session, now=utcnow()),
        needs_provider=not _has_password()
        and not session_service.recently_authenticated(session, now=utcnow()),
        admin_view=False,
    ), status


@bp.route("/account/sessions", methods=["GET"])
@requires("clerk")
def my_sessions() -> Any:
    return _render_mine()


@bp.route("/account/sessions/end-all", methods=["POST"])
@requires("clerk")
def end_my_sessions() -> Any:
    # The global CSRFProtect has checked this POST's token. Ending every session needs a
    # recent sign-in, or the password again (ASVS 7.5.2): a stolen session alone cannot lock
    # its owner out.
    now = utcnow()
    if not session_service.recently_authenticated(session, now=now):
        if not _has_password():
            flash(_("Confirm at the identity provider first."), "error")
            return redirect(url_for("counter.my_sessions"))
        form = ConfirmPasswordForm()
        if not form.validate():
            return _render_mine(form, 422)
        try:
            staff_service.authenticate(
                db.session,
                username=str(current_user.username),
                password=str(form.password.data or ""),
                now=now,
                max_failed=int(current_app.config["MAX_FAILED_LOGINS"]),
                lockout=timedelta(minutes=int(current_app.config["LOCKOUT_MINUTES"])),
            )
        except ServiceError as exc:
            db.session.rollback()
            form.password.errors = [str(exc.message)]
            return _render_mine(form, 422)
    session_service.sign_out_everywhere(db.session, staff_id=int(current_user.id), now=now)
    logout_user()
    session.clear()
    flash(_("You are signed out on every device."), "info")
    return redirect(url_for("counter.login"))


@bp.route("/admin/sessions", methods=["GET"])
@requires("admin")
def admin_sessions() -> Any:
    return render_template(
        "counter/sessions.html",
        sessions=session_service.list_sessions(db.session, now=utcnow()),
        current_id=_current_row_id(),
        action_form=ActionForm(formdata=None),
        confirm_form=None,
        needs_password=False,
        needs_provider=False,
        admin_view=True,
    )


@bp.route("/admin/sessions/<int(max=2147483647):session_id>/end", methods=["POST"])
@requires("admin")
def admin_sessions_end(session_id: int) -> Any:
    # An unknown or already ended session is a NotFoundError: the 404 page.
    session_service.end_session(
        db.session, row_id=session_id, now=utcnow(), actor=Actor.staff(int(current_user.id))
    )
    flash(_("The session is ended: its next request goes to the sign-in page."), "success")
    return redirect(url_for("counter.admin_sessions"))


def _current_row_id() -> int | None:
    return getattr(session, "row_id", None)
