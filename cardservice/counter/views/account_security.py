"""A staff member's own sign-in settings (second factors, recovery codes, password), and
step-up: the gravest actions need a second factor from the last few minutes.

Step-up is one hook on the blueprint rather than a decorator on each view, so the list of
guarded pages is in one place (and a test reads it): erasure, key commands, staff
administration, and removing one's own factors.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from ...extensions import db
from ...services import mfa as mfa_service
from ...services import passkeys as passkey_service
from ...services import utcnow
from ...services.oidc import signs_in_at_the_provider
from ..blueprint import bp
from ..form_base import ActionForm
from ..roles import has_role, requires
from ..security_forms import PasswordChangeForm
from .base import safe_next
from .factor_setup import password_saved
from .second_factor import actor_of

ENROL_ENDPOINTS = frozenset(
    {"counter.signin_enrol", "counter.signin_enrol_totp", "counter.signin_enrol_passkey"}
)
#: Endpoints that need a second factor within STEP_UP_MINUTES (every method: a GET of the
#: page comes first, so the step-up happens before the form is filled in, not after).
STEP_UP_ENDPOINTS = frozenset(
    {
        "counter.erase",
        "counter.admin_staff",
        "counter.admin_staff_active",
        "counter.admin_staff_password",
        "counter.admin_keys",
        "counter.admin_keys_revoke",
        "counter.admin_keys_rotate",
        "counter.account_security_remove_totp",
        "counter.account_security_remove_passkey",
        "counter.account_security_recovery_codes",
        # Adding a factor to a signed-in account (a stolen session must not add its own key);
        # the very first factor of an account is the exception, with nothing to step up with.
        *ENROL_ENDPOINTS,
    }
)


def _recent(key: str) -> bool:
    """The session's `key` (UTC epoch seconds) lies within the last STEP_UP_MINUTES."""
    at = session.get(key)
    window = int(current_app.config["STEP_UP_MINUTES"]) * 60
    return isinstance(at, int) and 0 <= int(time.time()) - at <= window


def mfa_fresh() -> bool:
    """A second factor was verified in this session within the last STEP_UP_MINUTES."""
    return _recent("mfa_at")


@bp.before_request
def _step_up() -> WerkzeugResponse | None:
    if request.endpoint not in STEP_UP_ENDPOINTS or not current_user.is_authenticated:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if not has_role(getattr(view, "required_role", "clerk")):
        return None  # the view answers 403 itself
    if mfa_fresh():
        return None
    has_factor = mfa_service.status(db.session, int(current_user.id)).any
    if not has_factor and request.endpoint in ENROL_ENDPOINTS:
        return None
    if request.method == "GET":
        target = request.full_path
    else:
        referrer = request.referrer or ""
        host = request.host_url
        target = referrer[len(host) - 1 :] if referrer.startswith(host) else ""
    if not has_factor and signs_in_at_the_provider(current_user) and not _recent("auth_at"):
        # A single sign-on member proves it again at the city's provider, whose MFA counts
        # (services/oidc.py). Only when it did not just do so: a provider that signed them in
        # without MFA would otherwise send them round forever.
        return redirect(url_for("counter.sso_login", reauth="1", next=safe_next(target) or None))
    if not has_factor:
        flash(_("Set up a second factor first: this action needs one."), "error")
        return redirect(url_for("counter.account_security"))
    flash(_("Confirm it is you: this action needs your second factor again."), "info")
    return redirect(url_for("counter.signin_verify", next=safe_next(target) or None))


# --- the page ---------------------------------------------------------------------------------


@bp.route("/account/security", methods=["GET"])
@requires("clerk")
def account_security() -> Any:
    user_id = int(current_user.id)
    return render_template(
        "counter/account_security.html",
        factors=mfa_service.status(db.session, user_id),
        passkeys=passkey_service.list_credentials(db.session, user_id),
        required=current_user.role
        in mfa_service.parse_required_roles(current_app.config["MFA_REQUIRED_ROLES"]),
        action_form=ActionForm(formdata=None),
    )


@bp.route("/account/security/totp/remove", methods=["POST"])
@requires("clerk")
def account_security_remove_totp() -> Any:
    user_id = int(current_user.id)
    if not _may_remove(user_id, passkeys_after=None):
        return redirect(url_for("counter.account_security"))
    mfa_service.remove_totp(db.session, user_id=user_id, now=utcnow(), actor=actor_of(user_id))
    flash(_("The authenticator app is removed."), "success")
    return redirect(url_for("counter.account_security"))


@bp.route("/account/security/passkeys/<int(max=2147483647):credential>/remove", methods=["POST"])
@requires("clerk")
def account_security_remove_passkey(credential: int) -> Any:
    user_id = int(current_user.id)
    if not _may_remove(user_id, passkeys_after=-1):
        return redirect(url_for("counter.account_security"))
    passkey_service.remove(
        db.session,
        user_id=user_id,
        credential_row=credential,
        now=utcnow(),
        actor=actor_of(user_id),
    )
    flash(_("The security key is removed."), "success")
    return redirect(url_for("counter.account_security"))


def _may_remove(user_id: int, *, passkeys_after: int | None) -> bool:
    """An account whose role needs a second factor keeps at least one."""
    factors = mfa_service.status(db.session, user_id)
    if passkeys_after is None:
        left = factors.passkeys > 0
    else:
        left = factors.totp or factors.passkeys + passkeys_after > 0
    if left or current_user.role not in mfa_service.parse_required_roles(
        current_app.config["MFA_REQUIRED_ROLES"]
    ):
        return True
    flash(_("Your role needs a second factor: add another one before removing this one."), "error")
    return False


@bp.route("/account/security/recovery-codes", methods=["POST"])
@requires("clerk")
def account_security_recovery_codes() -> Any:
    user_id = int(current_user.id)
    if not mfa_service.status(db.session, user_id).any:
        return redirect(url_for("counter.account_security"))
    codes = mfa_service.new_recovery_codes(
        db.session, user_id=user_id, now=utcnow(), actor=actor_of(user_id)
    )
    return render_template("counter/recovery_codes.html", codes=codes, signing_in=False)


@bp.route("/account/password", methods=["GET", "POST"])
@requires("clerk")
def account_password() -> Any:
    form = PasswordChangeForm()
    if password_saved(form, int(current_user.id)):
        return redirect(url_for("counter.account_security"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("counter/account_password.html", form=form), status
