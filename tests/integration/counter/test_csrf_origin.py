"""Forms posted over HTTPS as browsers post them: with an Origin and no Referer.

A browser on a page served with a same-origin referrer policy sends ``Origin`` on every POST; it
sends a ``Referer`` only when the policy allows one. The sign-in (and every other form) must work
so, while a foreign or opaque origin is refused even with a valid token.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from .support import PASSWORD

SITE = "https://cards.example.org"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path, base_url=SITE).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, page
    return match.group(1)


def _sign_in(client: FlaskClient, **headers: str) -> object:
    data = {"username": "clerk", "password": PASSWORD, "csrf_token": _token(client)}
    return client.post("/login", data=data, base_url=SITE, headers=headers)


def test_sign_in_over_https_with_origin_and_no_referer(client: FlaskClient) -> None:
    response = _sign_in(client, Origin=SITE)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/"
    # Signed in: a form behind the sign-in works the same way (the logout form).
    page = client.get("/", base_url=SITE)
    assert page.status_code == 200
    token = _token(client, "/")
    logout = client.post(
        "/logout", data={"csrf_token": token}, base_url=SITE, headers={"Origin": SITE}
    )
    assert logout.status_code == 302
    assert logout.headers["Location"].startswith("/login")


def test_pages_ask_browsers_for_same_origin_referrers(client: FlaskClient) -> None:
    # With no-referrer, browsers post "Origin: null", which the check rightly refuses.
    response = client.get("/login", base_url=SITE)
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_a_foreign_origin_is_refused_even_with_a_token_and_a_referer(
    client: FlaskClient,
) -> None:
    response = _sign_in(client, Origin="https://evil.example", Referer=f"{SITE}/login")
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert client.get("/", base_url=SITE).status_code == 302  # not signed in


def test_an_opaque_origin_is_refused(client: FlaskClient) -> None:
    # "null" is what a sandboxed frame or a no-referrer page posts: nothing proves the source.
    assert _sign_in(client, Origin="null").status_code == 400


def test_another_port_or_scheme_of_the_same_host_is_a_foreign_origin(
    client: FlaskClient,
) -> None:
    assert _sign_in(client, Origin="https://cards.example.org:8443").status_code == 400
    assert _sign_in(client, Origin="http://cards.example.org").status_code == 400


def test_without_origin_https_still_needs_a_same_origin_referer(client: FlaskClient) -> None:
    assert _sign_in(client).status_code == 400
    assert _sign_in(client, Referer="https://evil.example/login").status_code == 400
    assert _sign_in(client, Referer=f"{SITE}/login").status_code == 302


def test_the_token_is_still_required_with_a_good_origin(app: Flask) -> None:
    client = app.test_client()
    client.get("/login", base_url=SITE)
    response = client.post(
        "/login",
        data={"username": "clerk", "password": PASSWORD},
        base_url=SITE,
        headers={"Origin": SITE},
    )
    assert response.status_code == 400
