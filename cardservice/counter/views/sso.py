"""Single sign-on with the city's OpenID Connect provider (authorization code with PKCE).

Authlib does the protocol: discovery, state and nonce (kept in the server-side session), the
S256 code challenge, the code exchange with the client secret, the ID token's signature and
nonce. services/oidc.py says what else the ID token must hold (issuer, audience, times) and
decides who the verified claims name, their role and whether the provider's sign-in counts as
a second factor.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user
from joserfc.errors import JoseError
from requests import RequestException

from ...extensions import db
from ...models import StaffUser
from ...serversession import rotate_session_id
from ...services import oidc as oidc_service
from ...services import utcnow
from ...services.errors import ServiceError
from ..blueprint import bp
from ..roles import ANONYMOUS, requires
from .base import safe_next

log = logging.getLogger("cardservice.sso")
CLIENT = "city"
_NEXT = "sso_next"


def init_app(app: Flask) -> None:
    """Register the provider's client on this app (one registry per app: tests run several)."""
    if not app.config.get("OIDC_ENABLED"):
        return
    oauth = OAuth(app)
    oauth.register(  # type: ignore[no-untyped-call]
        CLIENT,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_ISSUER"].rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": app.config["OIDC_TIMEOUT_SECONDS"],
        },
    )


def _client() -> Any:
    oauth: OAuth | None = current_app.extensions.get("authlib.integrations.flask_client")
    if oauth is None or not current_app.config.get("OIDC_ENABLED"):
        abort(404)
    client = oauth.create_client(CLIENT)  # type: ignore[no-untyped-call]
    metadata = client.load_server_metadata()
    # The discovery document must name the issuer we trust (OpenID Connect Discovery 4.3):
    # otherwise another provider's tokens could be accepted as this one's.
    if metadata.get("issuer") != current_app.config["OIDC_ISSUER"]:
        raise OAuthError(error="issuer_mismatch")
    # Authlib checks the ID token's algorithm against this list, read from the cached metadata.
    algorithms = "id_token_signing_alg_values_supported"
    metadata[algorithms] = oidc_service.id_token_algorithms(metadata.get(algorithms))
    return client


def _failed(message: str, status: int) -> tuple[str, int]:
    db.session.rollback()
    return render_template(
        "counter/error.html", title=_("Single sign-on failed"), message=message
    ), status


def _failure(exc: Exception) -> str:
    if isinstance(exc, JoseError):
        # joserfc's errors name the claim ("invalid_claim: Invalid claim: 'aud'"), not its value.
        return f"{type(exc).__name__} {exc.error}: {exc.description or ''}"[:120]
    if isinstance(exc, OAuthError):
        return f"{type(exc).__name__} {exc.error}"[:120]
    return type(exc).__name__


@bp.route("/sso/login", methods=["GET"])
@requires(ANONYMOUS)
def sso_login() -> Any:
    """Send the browser to the provider. ``reauth=1`` asks it to sign the member in afresh
    (a step-up before a sensitive action)."""

    if not current_app.config.get("OIDC_ENABLED"):
        abort(404)
    reauth = request.args.get("reauth") == "1"
    if current_user.is_authenticated and not reauth:
        return redirect(url_for("counter.dashboard"))
    session[_NEXT] = safe_next(request.args.get("next")) or ""
    extra: dict[str, Any] = {}
    if current_app.config["OIDC_ACR_VALUES"]:
        extra["acr_values"] = current_app.config["OIDC_ACR_VALUES"]
    if reauth:
        extra.update(prompt="login", max_age=0)
    try:
        client = _client()
        return client.authorize_redirect(url_for("counter.sso_callback", _external=True), **extra)
    except (OAuthError, RequestException, ValueError) as exc:
        log.warning("single sign-on unavailable: %s", type(exc).__name__)
        return _failed(_("The identity provider cannot be reached. Try again shortly."), 502)


@bp.route("/sso/callback", methods=["GET"])
@requires(ANONYMOUS)
def sso_callback() -> Any:
    if not current_app.config.get("OIDC_ENABLED"):
        abort(404)
    if request.args.get("error"):
        # The member cancelled, or the provider refused: its code only, never its text.
        log.info(
            "identity provider answered an error: %s",
            oidc_service.provider_error(request.args.get("error", "")),
        )
        return _failed(_("The identity provider did not sign you in."), 401)
    rules = oidc_service.OidcRules.from_config(current_app.config)
    try:
        client = _client()
        iss = request.args.get("iss")
        if not oidc_service.response_issuer_ok(rules, client.load_server_metadata(), iss):
            raise OAuthError(error="response_issuer_mismatch")
        token = client.authorize_access_token(**oidc_service.id_token_checks(rules, utcnow))
        id_token = dict(token.get("userinfo") or {})
        if not id_token:
            raise OAuthError(error="missing_id_token")
        userinfo = dict(client.userinfo(token=token))
    except (OAuthError, JoseError, RequestException, ValueError, KeyError) as exc:
        # A stale or replayed callback, a forged token, an unreachable provider: the kind of
        # failure and the claim at fault for the operators, never a value from the token.
        log.warning("single sign-on failed: %s", _failure(exc))
        return _failed(_("The sign-in could not be completed. Start again."), 400)
    try:
        result = oidc_service.sign_in(
            db.session, rules, id_token=id_token, userinfo=userinfo, now=utcnow()
        )
    except ServiceError as exc:
        return _failed(str(exc.message), exc.status)
    user = db.session.get(StaffUser, result.user_id)
    if user is None:
        return _failed(_("The sign-in could not be completed. Start again."), 400)
    target = session.get(_NEXT) or url_for("counter.dashboard")
    # Nothing from before the sign-in survives; the session id changes (serversession.py),
    # for a re-authentication of the same member too.
    session.clear()
    rotate_session_id()
    login_user(user)
    session.permanent = True
    session["auth_at"] = int(utcnow().timestamp())
    session["amr"] = list(result.amr)
    if result.mfa_at is not None:
        session["mfa_at"] = result.mfa_at
    flash(_("Signed in with the city's account."), "success")
    return redirect(target)
