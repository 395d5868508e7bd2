"""Administration of staff accounts: create, deactivate, reset a password."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ...extensions import db
from ...services import staff as staff_service
from ...services import utcnow
from ..blueprint import bp
from ..form_base import ActionForm
from ..roles import requires
from ..staff_forms import PasswordResetForm, StaffCreateForm
from .base import RowForms, attempt, perform, required_text, staff_actor

# One password-reset form per staff row.
_PASSWORD_FORMS = RowForms[int, PasswordResetForm](PasswordResetForm, "user")


@bp.route("/admin/staff", methods=["GET", "POST"])
@requires("admin")
def admin_staff() -> Any:
    form = StaffCreateForm()
    status = 200
    if form.validate_on_submit():
        user = attempt(
            lambda: staff_service.create_user(
                db.session,
                username=required_text(form.username.data),
                password=required_text(form.password.data),
                role=form.role.data,
                preferred_language=form.language.data or None,
                now=utcnow(),
                actor=staff_actor(),
            ),
            form,
        )
        if user is not None:
            flash(_("The account %(name)s is created.", name=user.username), "success")
            return redirect(url_for("counter.admin_staff"))
        status = 422
    elif form.is_submitted():
        status = 422
    return _render_admin_staff(form, status)


def _render_admin_staff(
    form: StaffCreateForm,
    status: int = 200,
    *,
    failed: tuple[int, PasswordResetForm] | None = None,
) -> tuple[str, int]:
    users = staff_service.list_users(db.session)
    return render_template(
        "counter/admin_staff.html",
        form=form,
        users=users,
        **_PASSWORD_FORMS.context("password_forms", (user.id for user in users), failed),
        action_form=ActionForm(formdata=None),
        now=utcnow(),
    ), status


@bp.route("/admin/staff/<int(max=2147483647):user_id>/active", methods=["POST"])
@requires("admin")
def admin_staff_active(user_id: int) -> Any:
    # The global CSRFProtect has already checked this POST's token.
    active = request.form.get("active") == "1"
    changed = attempt(
        lambda: staff_service.set_user_active(
            db.session, user_id=user_id, active=active, now=utcnow(), actor=staff_actor()
        )
    )
    if changed is not None:
        flash(
            _("The account is active again.") if active else _("The account is deactivated."),
            "success",
        )
    return redirect(url_for("counter.admin_staff"))


@bp.route("/admin/staff/<int(max=2147483647):user_id>/password", methods=["POST"])
@requires("admin")
def admin_staff_password(user_id: int) -> Any:
    form = _PASSWORD_FORMS.submitted(user_id)
    if form.validate() and perform(
        lambda: staff_service.set_password(
            db.session,
            user_id=user_id,
            password=required_text(form.password.data),
            now=utcnow(),
            actor=staff_actor(),
        ),
        form,
    ):
        flash(_("The new password is set and the account is unlocked."), "success")
        return redirect(url_for("counter.admin_staff"))
    return _render_admin_staff(StaffCreateForm(formdata=None), 422, failed=(user_id, form))
