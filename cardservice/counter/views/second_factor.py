"""Sign-in after the password: the second factor, its enrolment at first sign-in, the forced
password change, and step-up (a second factor again before the gravest actions).

Until every step is done the browser holds only a pending sign-in (``session["preauth"]``:
the account, when the password was right, what was proved so far), never a staff session:
no page but these steps opens. Once done, the session holds, by convention with the single
sign-on module, ``session["amr"]`` (the methods used: "pwd", "otp", "hwk") and
``session["mfa_at"]`` (UTC epoch seconds of the last second factor), which step-up reads.
"""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any, Literal, TypedDict

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.wrappers import Response as WerkzeugResponse

from ...extensions import db
from ...models import StaffUser
from ...services import authentication, deps, utcnow
from ...services import mfa as mfa_service
from ...services import passkeys as passkey_service
from ...services.audit import Actor
from ...services.devices import TrustedDevice
from ..blueprint import bp
from ..device_cookie import of_this_session, remember
from ..roles import ANONYMOUS, requires
from ..security_forms import CodeForm, PasskeyForm
from .base import safe_next

PREAUTH = "preauth"
# A pending sign-in lasts long enough to set up an app, not long enough to be left lying around.
PREAUTH_SECONDS = 600
CHALLENGE = "webauthn_challenge"


# --- the pending sign-in ----------------------------------------------------------------------


def after_password(
    user: StaffUser, next_path: str | None, device: TrustedDevice | None = None
) -> WerkzeugResponse:
    """The password was right: start the pending sign-in and go to its next step. A browser
    trusted for this account (device cookie) keeps its own counter through the steps."""
    session.clear()  # nothing from before the sign-in survives into it
    session[PREAUTH] = {
        "uid": int(user.id),
        "at": int(time.time()),
        "next": next_path or "",
        "amr": ["pwd"],
        "mfa": False,
        "dev": device.nonce_hash if device is not None and device.staff_id == user.id else None,
    }
    return continue_sign_in()


def _device(user_id: int, state: dict[str, Any] | None) -> TrustedDevice | None:
    """The trusted browser of a pending sign-in, or of a signed-in session stepping up; None
    for an untrusted one."""
    if state is None:
        return of_this_session(user_id)
    nonce_hash = state.get("dev")
    return TrustedDevice(str(nonce_hash), user_id) if nonce_hash else None


def pending() -> tuple[dict[str, Any], StaffUser] | None:
    """The pending sign-in and its account, or None (none, expired, or account deactivated)."""
    state = session.get(PREAUTH)
    if not isinstance(state, dict) or int(time.time()) - int(state.get("at", 0)) > PREAUTH_SECONDS:
        session.pop(PREAUTH, None)
        return None
    user = db.session.get(StaffUser, int(state["uid"]))
    if user is None or not user.active:
        session.pop(PREAUTH, None)
        return None
    return state, user


def _mark(state: dict[str, Any], method: str) -> None:
    state["mfa"] = True
    state["amr"] = [*state["amr"], method] if method not in state["amr"] else state["amr"]
    session[PREAUTH] = state


def required_roles() -> frozenset[str]:
    return mfa_service.parse_required_roles(current_app.config["MFA_REQUIRED_ROLES"])


def continue_sign_in() -> WerkzeugResponse:
    found = pending()
    if found is None:
        flash(_("Your sign-in took too long. Sign in again."), "error")
        return redirect(url_for("counter.login"))
    state, user = found
    factors = mfa_service.status(db.session, user.id)
    if factors.any and not state["mfa"]:
        return redirect(url_for("counter.signin_verify"))
    if user.must_change_password:
        return redirect(url_for("counter.signin_password"))
    if not factors.any and mfa_service.mfa_required(user.role, required_roles()):
        return redirect(url_for("counter.signin_enrol"))
    return _finish(user, state)


def _finish(user: StaffUser, state: dict[str, Any]) -> WerkzeugResponse:
    amr, proved, target = list(state["amr"]), bool(state["mfa"]), state.get("next") or ""
    session.clear()
    login_user(user)
    session.permanent = True
    session["amr"] = amr
    # When the member last proved who they are (services/sessions.py: re-authentication).
    session["auth_at"] = int(utcnow().timestamp())
    if proved:
        session["mfa_at"] = int(time.time())
    device = _device(user.id, state)
    mfa_service.complete_sign_in(db.session, user_id=user.id, amr=amr, now=utcnow(), device=device)
    response = redirect(safe_next(target) or url_for("counter.dashboard"))
    # Every pending sign-in began with the password (single sign-on signs in elsewhere).
    remember(response, user.id, replaces=device)
    return response


# --- WebAuthn plumbing ------------------------------------------------------------------------


def rp_id() -> str:
    return str(current_app.config.get("WEBAUTHN_RP_ID") or request.host.rsplit(":", 1)[0])


def origin() -> str:
    return str(current_app.config.get("WEBAUTHN_ORIGIN") or request.host_url.rstrip("/"))


def passkey_options(purpose: Literal["create", "get"], user_id: int) -> str:
    """The WebAuthn options of a ceremony with the account's keys, whose challenge the session
    keeps for the answer (take_challenge): "create" registers a key, "get" proves one."""
    begin = (
        passkey_service.registration_options
        if purpose == "create"
        else passkey_service.authentication_options
    )
    options, challenge = begin(db.session, user_id=user_id, rp_id=rp_id())
    session[CHALLENGE] = {"c": base64.b64encode(challenge).decode("ascii"), "p": purpose}
    return options


class PasskeyAnswer(TypedDict):
    """The browser's answer to a ceremony and what it must match: the passkey service's
    arguments for it."""

    credential_json: str
    challenge: bytes
    rp_id: str
    origin: str


def passkey_answer(form: PasskeyForm, purpose: Literal["create", "get"]) -> PasskeyAnswer | None:
    """The answer `form` carries to the ceremony of `purpose`, with its challenge taken from the
    session, once: None when there is none (never started, or a replayed answer)."""
    kept = session.pop(CHALLENGE, None)
    if not isinstance(kept, dict) or kept.get("p") != purpose:
        return None
    return PasskeyAnswer(
        credential_json=str(form.credential.data or ""),
        challenge=base64.b64decode(kept["c"]),
        rp_id=rp_id(),
        origin=origin(),
    )


# --- the second factor: at sign-in and for step-up --------------------------------------------


def _who() -> tuple[int, dict[str, Any] | None] | None:
    """(account, pending state) for a pending sign-in, (account, None) for a step-up."""
    if current_user.is_authenticated:
        return int(current_user.id), None
    found = pending()
    if found is None:
        return None
    return found[1].id, found[0]


def _verify_page(user_id: int, form: CodeForm, status: int = 200) -> tuple[str, int]:
    factors = mfa_service.status(db.session, user_id)
    return render_template(
        "counter/signin_verify.html",
        form=form,
        passkey_form=PasskeyForm(formdata=None),
        factors=factors,
        options=passkey_options("get", user_id) if factors.passkeys else None,
        next_path=request.args.get("next", ""),
        step_up=current_user.is_authenticated,
    ), status


def _locked(user_id: int, state: dict[str, Any]) -> bool:
    """Whether the pending sign-in's counter (its trusted browser's, or the account's) is
    locked: then not even a right code goes on."""
    return authentication.is_locked(
        db.session, user_id, now=utcnow(), device=_device(user_id, state)
    )


def _failed_factor(user_id: int, state: dict[str, Any] | None) -> WerkzeugResponse | None:
    """Count a wrong code like a wrong password; a locked account ends the pending sign-in."""
    config = current_app.config
    authentication.record_failed_factor(
        db.session,
        user_id=user_id,
        now=utcnow(),
        max_failed=int(config["MAX_FAILED_LOGINS"]),
        lockout=timedelta(minutes=int(config["LOCKOUT_MINUTES"])),
        device=_device(user_id, state),
    )
    if state is not None and _locked(user_id, state):
        session.pop(PREAUTH, None)
        flash(_("Wrong user name or password."), "error")
        return redirect(url_for("counter.login"))
    return None


def _passed(user_id: int, state: dict[str, Any] | None, method: str) -> WerkzeugResponse:
    if state is not None:
        if _locked(user_id, state):
            session.pop(PREAUTH, None)
            flash(_("Wrong user name or password."), "error")
            return redirect(url_for("counter.login"))
        _mark(state, method)
        return continue_sign_in()
    # Step-up: the session's proof is fresh again.
    session["mfa_at"] = int(time.time())
    amr = list(session.get("amr") or [])
    session["amr"] = amr if method in amr else [*amr, method]
    return redirect(safe_next(request.args.get("next")) or url_for("counter.dashboard"))


@bp.route("/login/verify", methods=["GET", "POST"])
@requires(ANONYMOUS)
def signin_verify() -> Any:
    who = _who()
    if who is None:
        return redirect(url_for("counter.login"))
    user_id, state = who
    if not mfa_service.status(db.session, user_id).any:
        if state is not None:
            return continue_sign_in()
        flash(_("Set up a second factor first: this action needs one."), "error")
        return redirect(url_for("counter.account_security"))
    form = CodeForm()
    if form.validate_on_submit():
        code, now = str(form.code.data), utcnow()
        locked = state is not None and _locked(user_id, state)
        if not locked and mfa_service.verify_totp(
            db.session, deps(), user_id=user_id, code=code, now=now
        ):
            return _passed(user_id, state, "otp")
        if not locked and mfa_service.use_recovery_code(
            db.session, user_id=user_id, code=code, now=now
        ):
            flash(_("You used a recovery code: each works once. Make new ones if few are left."))
            return _passed(user_id, state, "otp")
        ended = _failed_factor(user_id, state)
        if ended is not None:
            return ended
        form.code.errors = [_("This code is not right.")]
    return _verify_page(user_id, form, 422 if form.errors else 200)


@bp.route("/login/verify/passkey", methods=["POST"])
@requires(ANONYMOUS)
def signin_verify_passkey() -> Any:
    who = _who()
    if who is None:
        return redirect(url_for("counter.login"))
    user_id, state = who
    form = PasskeyForm()
    answer = passkey_answer(form, "get")
    if (
        form.validate_on_submit()
        and answer is not None
        and not (state is not None and _locked(user_id, state))
        and passkey_service.verify(db.session, user_id=user_id, now=utcnow(), **answer)
    ):
        return _passed(user_id, state, "hwk")
    ended = _failed_factor(user_id, state)
    if ended is not None:
        return ended
    code_form = CodeForm(formdata=None)
    code_form.form_errors.append(_("The security key was not accepted. Try again."))
    return _verify_page(user_id, code_form, 422)


@bp.route("/login/continue", methods=["POST"])
@requires(ANONYMOUS)
def signin_continue() -> Any:
    """After the recovery codes were shown: on to the next step."""
    if current_user.is_authenticated:
        return redirect(url_for("counter.account_security"))
    return continue_sign_in()


def actor_of(user_id: int) -> Actor:
    return Actor.staff(user_id)
