"""Single sign-on against a real LemonLDAP::NG portal (Debian's 2.16 packages, on loopback),
configured as docs/operations.md's "LemonLDAP::NG" section says (tests/oidc/lemonldap.py): the
counter through the Flask test client, the browser played over real HTTP on the portal's login
form."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from cardservice.extensions import db
from cardservice.models import StaffIdentity
from cardservice.services.oidc import id_token_algorithms
from tests.oidc.lemonldap import CLIENT_ID, CLIENT_SECRET, Portal, run_portal, sign_in_at_portal
from tests.oidc.tamper import TamperingProxy, running_proxy

from .sso_support import callback, staff
from .support import post

CALLBACK = "http://localhost/sso/callback"


@pytest.fixture(scope="module")
def attacker() -> Iterator[tuple[TamperingProxy, Portal]]:
    """The portal, every request to it through a proxy that can replace its ID tokens (it
    forwards everything as it came until a test sets ``replace``)."""
    with running_proxy() as proxy, run_portal([CALLBACK], issuer=f"{proxy.url}/") as running:
        proxy.target = running.address
        yield proxy, running


@pytest.fixture
def portal(attacker: tuple[TamperingProxy, Portal]) -> Portal:
    attacker[0].reset()
    return attacker[1]


@pytest.fixture
def llng_app(second_app: Callable[..., Flask], portal: Portal) -> Flask:
    return second_app(environ=portal.env())


def _sign_in(portal: Portal, client: FlaskClient, user: str) -> Any:
    """The counter's "Sign in with the city's account", the portal's forms, the way back."""
    response = client.get("/sso/login")
    assert response.status_code == 302, response.get_data(as_text=True)
    # The Demo members' passwords are their user names.
    back = sign_in_at_portal(portal, response.headers["Location"], user, user, CALLBACK)
    return callback(client, back)


def _metadata(portal: Portal) -> dict[str, Any]:
    response = requests.get(f"{portal.issuer}.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    metadata: dict[str, Any] = response.json()
    return metadata


def test_discovery_names_the_issuer_exactly_as_the_guide_sets_it(portal: Portal) -> None:
    metadata = _metadata(portal)
    # With its final slash: the counter compares the two strings, nothing else.
    assert metadata["issuer"] == portal.issuer == portal.env()["CARDSERVICE_OIDC_ISSUER"]
    assert metadata["issuer"].endswith("/")
    assert "S256" in metadata["code_challenge_methods_supported"]
    keys = requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"]  # public keys only


def test_a_staff_member_signs_in_with_the_role_of_their_group(
    portal: Portal, llng_app: Flask
) -> None:
    client = llng_app.test_client()
    response = _sign_in(portal, client, "dwho")  # in cardservice-admins
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = staff(llng_app, "dwho")
    assert user and user.role == "admin" and user.password_hash == "!sso"
    with llng_app.app_context():
        identity = db.session.scalars(select(StaffIdentity)).one()
        db.session.remove()
    assert identity.issuer == llng_app.config["OIDC_ISSUER"] and identity.subject == "dwho"
    # The portal's second factor raised the session to loa-3, one of CARDSERVICE_OIDC_MFA_ACR:
    # the counter counts it as its own, and lets the administrator in.
    with client.session_transaction() as session:
        assert isinstance(session["mfa_at"], int)
    assert client.get("/admin/staff").status_code == 200

    clerk = llng_app.test_client()
    assert _sign_in(portal, clerk, "rtyler").status_code == 302  # in cardservice-clerks
    assert clerk.get("/").status_code == 200
    assert clerk.get("/audit").status_code == 403
    rose = staff(llng_app, "rtyler")
    assert rose and rose.role == "clerk"
    with clerk.session_transaction() as session:
        assert "mfa_at" not in session  # a password only: loa-1


def test_a_member_of_no_mapped_group_is_refused(portal: Portal, llng_app: Flask) -> None:
    client = llng_app.test_client()
    response = _sign_in(portal, client, "msmith")  # groups "earthlings; users" only
    assert response.status_code == 403
    assert "no role in this service" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert staff(llng_app, "msmith") is None


def test_a_wrong_password_stays_at_the_portal(portal: Portal, llng_app: Flask) -> None:
    client = llng_app.test_client()
    location = client.get("/sso/login").headers["Location"]
    with pytest.raises(AssertionError) as refused:
        sign_in_at_portal(portal, location, "dwho", "not the password", CALLBACK)
    status, page = refused.value.args[0]
    assert status == 200 and 'trspan="authPortal"' in page  # its sign-in page again
    assert staff(llng_app, "dwho") is None


def test_signing_out_ends_the_counter_session(portal: Portal, llng_app: Flask) -> None:
    client = llng_app.test_client()
    assert _sign_in(portal, client, "rtyler").status_code == 302
    assert client.get("/").status_code == 200
    response = post(client, "/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # back to the sign-in page
    # Signing in again goes through the portal again (its own session is its business).
    assert _sign_in(portal, client, "rtyler").status_code == 302
    assert client.get("/").status_code == 200


def test_an_issuer_without_its_final_slash_is_refused(
    second_app: Callable[..., Flask], portal: Portal
) -> None:
    app = second_app(environ=portal.env(CARDSERVICE_OIDC_ISSUER=portal.issuer.rstrip("/")))
    response = app.test_client().get("/sso/login")
    assert response.status_code == 502  # discovery names another issuer: no request leaves


def _authorize(portal: Portal, scope: str, *, pkce: bool = True) -> tuple[dict[str, str], str]:
    """An authorization request outside the counter, dwho signing in: the query the portal
    sends back to the callback, and the PKCE verifier."""
    metadata = _metadata(portal)
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
    }
    if pkce:
        digest = hashlib.sha256(verifier.encode()).digest()
        query["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        query["code_challenge_method"] = "S256"
    back = sign_in_at_portal(
        portal, f"{metadata['authorization_endpoint']}?{urlencode(query)}", "dwho", "dwho", CALLBACK
    )
    return {key: values[0] for key, values in parse_qs(urlsplit(back).query).items()}, verifier


def _code_flow(portal: Portal, scope: str) -> dict[str, Any]:
    """The whole authorization code flow outside the counter: the portal's token response."""
    answer, verifier = _authorize(portal, scope)
    response = requests.post(
        _metadata(portal)["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def test_the_id_token_is_rs256_for_this_client_and_the_roles_come_with_their_scope(
    portal: Portal,
) -> None:
    metadata = _metadata(portal)
    body = _code_flow(portal, portal.env()["CARDSERVICE_OIDC_SCOPES"])
    header = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    claims = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == portal.issuer
    assert claims["aud"] in (CLIENT_ID, [CLIENT_ID])
    assert claims["sub"] == "dwho"
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    ).json()
    assert userinfo["preferred_username"] == "dwho"
    # An array even with one group (type string, array "always"), as the role map reads it.
    assert isinstance(userinfo["roles"], list) and "cardservice-admins" in userinfo["roles"]
    assert claims["acr"] == "loa-3"  # a password and the External second factor
    # Without the roles scope, no roles claim: CARDSERVICE_OIDC_SCOPES must list it.
    bare = _code_flow(portal, "openid profile")
    userinfo = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {bare['access_token']}"},
        timeout=10,
    ).json()
    assert "roles" not in userinfo and userinfo["preferred_username"] == "dwho"


def test_the_portal_refuses_an_authorization_request_without_pkce(portal: Portal) -> None:
    answer, _verifier = _authorize(portal, "openid", pkce=False)
    assert "code" not in answer and answer["error"] == "invalid_request", answer


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_id_token_is_refused_though_the_portal_advertises_none(
    attacker: tuple[TamperingProxy, Portal], llng_app: Flask
) -> None:
    proxy, portal = attacker
    # LemonLDAP::NG lists "none" and the HMAC algorithms next to RS256 in its metadata.
    advertised = _metadata(portal)["id_token_signing_alg_values_supported"]
    assert "none" in advertised and "HS256" in advertised and "RS256" in advertised
    assert id_token_algorithms(advertised) == ["RS256", "RS384", "RS512"]

    def unsigned(real: str) -> str:
        payload = real.split(".")[1]
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."

    proxy.replace = unsigned
    try:
        response = _sign_in(portal, llng_app.test_client(), "rtyler")
    finally:
        proxy.replace = None
    assert proxy.seen, "the token endpoint's answer did not go through the proxy"
    assert response.status_code == 400
    assert staff(llng_app, "rtyler") is None


@pytest.mark.parametrize(
    ("advertised", "accepted"),
    [
        (["RS256", "ES256", "PS256"], ["RS256", "ES256", "PS256"]),
        (["none"], ["RS256"]),
        (["HS256"], ["RS256"]),
        (None, ["RS256"]),
        ("ES256", ["ES256"]),
        ([42, "ES256"], ["ES256"]),
    ],
)
def test_the_accepted_algorithms_are_never_none_nor_hmac(
    advertised: Any, accepted: list[str]
) -> None:
    assert id_token_algorithms(advertised) == accepted
