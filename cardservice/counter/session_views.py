"""Staff sessions in the counter: one's own (sign out everywhere) and, for administrators,
everyone's (end one). Thin views over services/sessions.py."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..extensions import db
from ..services import Actor, utcnow
from ..services import sessions as session_service
from . import bp
from .forms import ActionForm
from .roles import requires


@bp.route("/account/sessions", methods=["GET"])
@requires("clerk")
def my_sessions() -> Any:
    return render_template(
        "counter/sessions.html",
        sessions=session_service.list_sessions(
            db.session, now=utcnow(), staff_id=int(current_user.id)
        ),
        current_id=_current_row_id(),
        action_form=ActionForm(formdata=None),
        admin_view=False,
    )


@bp.route("/account/sessions/end-all", methods=["POST"])
@requires("clerk")
def end_my_sessions() -> Any:
    # The global CSRFProtect has checked this POST's token.
    session_service.sign_out_everywhere(db.session, staff_id=int(current_user.id), now=utcnow())
    logout_user()
    from flask import session

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
    from flask import session

    return getattr(session, "row_id", None)
