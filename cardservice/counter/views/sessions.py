"""Staff sessions in the counter: one's own (sign out everywhere) and, for administrators,
everyone's (end one). Thin views over services/sessions.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ...extensions import db
from ...serversession import rotate_session_id
from ...services import Actor, ServiceError, authentication, utcnow
from ...services import sessions as session_service
from ...services.oidc import signs_in_at_the_provider
from ..blueprint import bp
from ..device_cookie import of_this_session
from ..form_base import ActionForm
from ..reauth_forms import ConfirmPasswordForm
from ..roles import requires


def _has_password() -> bool:
    return not signs_in_at_the_provider(current_user)


def _render_mine(form: ConfirmPasswordForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "counter/sessions.html",
        sessions=session_service.list_sessions(
            db.session, now=utcnow(), staff_id=int(current_user.id)
        ),
        current_id=_current_row_id(),
        action_form=ActionForm(formdata=None),
        confirm_form=form or ConfirmPasswordForm(formdata=None),
        confirmed=session_service.recently_authenticated(session, now=utcnow()),
        has_password=_has_password(),
        admin_view=False,
    ), status


@bp.route("/account/sessions", methods=["GET"])
@requires("clerk")
def my_sessions() -> Any:
    return _render_mine()


def _refused(now: Any) -> Any:
    """None when the member proved who they are within the last minutes (a sign-in, a second
    factor, or the confirmation below); otherwise a redirect to confirm first. ASVS 7.5.2: a
    stolen session alone cannot end its owner's other sessions."""
    if session_service.recently_authenticated(session, now=now):
        return None
    flash(_("Confirm who you are first."), "error")
    return redirect(url_for("counter.my_sessions"))


@bp.route("/account/sessions/confirm", methods=["POST"])
@requires("clerk")
def confirm_password() -> Any:
    """Re-authentication with the password (single sign-on members go to the provider)."""
    if not _has_password():
        return redirect(url_for("counter.sso_login", reauth="1", next=url_for(".my_sessions")))
    form = ConfirmPasswordForm()
    if not form.validate():
        return _render_mine(form, 422)
    now = utcnow()
    try:
        # The sign-in's own checks: the lockout counts these attempts too, on this browser's
        # counter when it holds a device cookie for the account.
        authentication.authenticate(
            db.session,
            username=str(current_user.username),
            password=str(form.password.data or ""),
            now=now,
            max_failed=int(current_app.config["MAX_FAILED_LOGINS"]),
            lockout=timedelta(minutes=int(current_app.config["LOCKOUT_MINUTES"])),
            device=of_this_session(int(current_user.id)),
        )
    except ServiceError as exc:
        db.session.rollback()
        form.password.errors = [str(exc.message)]
        return _render_mine(form, 422)
    session["auth_at"] = int(now.timestamp())
    rotate_session_id()  # a re-authentication gets a new session id too (ASVS 7.2.4)
    return redirect(url_for("counter.my_sessions"))


@bp.route("/account/sessions/<int(max=2147483647):session_id>/end", methods=["POST"])
@requires("clerk")
def end_my_session(session_id: int) -> Any:
    now = utcnow()
    refused = _refused(now)
    if refused is not None:
        return refused
    # Another member's session id is the same 404 as an unknown one.
    session_service.end_own_session(
        db.session, staff_id=int(current_user.id), row_id=session_id, now=now
    )
    flash(_("The session is ended: its next request goes to the sign-in page."), "success")
    return redirect(url_for("counter.my_sessions"))


@bp.route("/account/sessions/end-all", methods=["POST"])
@requires("clerk")
def end_my_sessions() -> Any:
    # The global CSRFProtect has checked this POST's token.
    now = utcnow()
    refused = _refused(now)
    if refused is not None:
        return refused
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
        confirmed=True,
        has_password=True,
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


@bp.route("/admin/sessions/user/<int(max=2147483647):user_id>/end", methods=["POST"])
@requires("admin")
def admin_sessions_end_user(user_id: int) -> Any:
    if user_id == int(current_user.id):
        flash(_("Use “Sign out everywhere” on your own sessions page."), "error")
        return redirect(url_for("counter.admin_sessions"))
    ended = session_service.end_user_sessions(
        db.session, staff_id=user_id, now=utcnow(), actor=Actor.staff(int(current_user.id))
    )
    flash(_("Sessions ended: %(count)s.", count=ended), "success")
    return redirect(url_for("counter.admin_sessions"))


@bp.route("/admin/sessions/end-everyone", methods=["POST"])
@requires("admin")
def admin_sessions_end_everyone() -> Any:
    ended = session_service.end_everyones_sessions(
        db.session,
        now=utcnow(),
        actor=Actor.staff(int(current_user.id)),
        keep_row_id=_current_row_id(),
    )
    flash(_("Sessions ended: %(count)s.", count=ended), "success")
    return redirect(url_for("counter.admin_sessions"))


def _current_row_id() -> int | None:
    return getattr(session, "row_id", None)
