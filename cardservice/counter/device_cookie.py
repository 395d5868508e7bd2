"""The device cookie of the sign-in pages: read it, and set a fresh one after a sign-in
(the rules: services/devices.py).

HttpOnly, SameSite=Strict (the sign-in form posts from the same site; no other site's page can
make a browser send it), Secure whenever the session cookie is, and sent only to the sign-in
pages (its path: the login form, its second factor and other steps below /login). Its value is
never logged.

The signed-in session keeps the hash of its browser's nonce (server side, like all session
data), so what a signed-in member types again (the password confirmation, a step-up code)
counts on that browser too: an attacker who keeps the account locked cannot block them there.
"""

from __future__ import annotations

from flask import current_app, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ..extensions import db
from ..services import devices, utcnow
from ..services.devices import TrustedDevice


def _days() -> int:
    return int(current_app.config["DEVICE_COOKIE_DAYS"])


def presented() -> TrustedDevice | None:
    """The browser of this request when its device cookie is valid and unexpired."""
    return devices.trusted(
        db.session,
        secret_key=str(current_app.config["SECRET_KEY"]),
        value=request.cookies.get(devices.COOKIE_NAME),
        now=utcnow(),
        days=_days(),
    )


#: The session key holding the signed-in browser's nonce hash.
SESSION_KEY = "dev"


def of_this_session(user_id: int) -> TrustedDevice | None:
    """The browser this signed-in session began in, while it is still trusted for `user_id`."""
    nonce_hash, days = session.get(SESSION_KEY), _days()
    if not isinstance(nonce_hash, str) or days <= 0:
        return None
    device = devices.known(db.session, nonce_hash=nonce_hash, now=utcnow(), days=days)
    return device if device is not None and device.staff_id == user_id else None


def remember(response: WerkzeugResponse, user_id: int, replaces: TrustedDevice | None) -> None:
    """After a sign-in with the password (the new session begun): a new cookie for this
    browser, replacing its last; the session remembers it."""
    days = _days()
    if days <= 0:
        return
    value, device = devices.issue(
        db.session,
        secret_key=str(current_app.config["SECRET_KEY"]),
        user_id=user_id,
        now=utcnow(),
        days=days,
        replaces=replaces,
    )
    session[SESSION_KEY] = device.nonce_hash
    response.set_cookie(
        devices.COOKIE_NAME,
        value,
        max_age=days * 24 * 3600,
        path=url_for("counter.login"),
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Strict",
    )
