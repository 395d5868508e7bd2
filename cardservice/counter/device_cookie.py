"""The device cookie of the sign-in pages: read it, and set a fresh one after a sign-in
(the rules: services/devices.py).

HttpOnly, SameSite=Strict (the sign-in form posts from the same site; no other site's page can
make a browser send it), Secure whenever the session cookie is, and sent only to the sign-in
pages (its path: the login form, its second factor and other steps below /login). Its value is
never logged.
"""

from __future__ import annotations

from flask import current_app, request, url_for
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


def remember(response: WerkzeugResponse, user_id: int, replaces: TrustedDevice | None) -> None:
    """After a sign-in with the password: a new cookie for this browser, replacing its last."""
    days = _days()
    if days <= 0:
        return
    value = devices.issue(
        db.session,
        secret_key=str(current_app.config["SECRET_KEY"]),
        user_id=user_id,
        now=utcnow(),
        days=days,
        replaces=replaces,
    )
    response.set_cookie(
        devices.COOKIE_NAME,
        value,
        max_age=days * 24 * 3600,
        path=url_for("counter.login"),
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Strict",
    )
