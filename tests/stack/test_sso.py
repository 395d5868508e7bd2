"""Single sign-on on the deployed stack: the real OpenID provider (tests/oidc, HTTPS, another
site) and the counter behind nginx over HTTPS, two instances sharing the server-side sessions in
PostgreSQL.

In Chromium a staff member signs in at the provider and out again, until the nginx access log
shows a sign-in that started on one instance and came back to the other (nginx balances each
request on its own). Then, without a browser, a sign-in is started on each instance directly
and completed on the other one, with the headers nginx adds: whatever nginx happens to choose,
the state, nonce and PKCE verifier kept in the session must be found by either instance.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from scripts.stack import Stack
from tests.oidc.harness import PASSWORD, sign_in_at_provider

pytestmark = pytest.mark.stack

COOKIE = "cardservice_session"
ATTEMPTS = 6


def _upstreams(log: Path, offset: int) -> dict[str, str]:
    """The instance (upstream address) nginx gave each /sso/ request since ``offset``."""
    text = log.read_bytes()[offset:].decode(errors="replace")
    found = re.findall(r'"GET (/sso/(?:login|callback)) [^"]+" \d+ \d+ \S+ upstream=(\S+)', text)
    return dict(found)


def _sso_sign_in(page: Any, stack: Stack, username: str) -> None:
    assert stack.oidc
    page.goto(f"{stack.url}/login")
    page.locator("#sso-login").click()
    page.wait_for_url(f"{stack.oidc.issuer}/**")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in at the provider").click()
    page.wait_for_url(f"{stack.url}/")


def test_staff_sign_in_at_the_provider_and_out_in_chromium(
    stack: Stack, stack_browser: Any, stack_run: dict[str, set[str]]
) -> None:
    stack_run["secrets"].add(PASSWORD)  # the provider's password: never in a log line
    log = stack.log_dir / "counter-access.log"
    served: list[dict[str, str]] = []
    errors: list[str] = []
    for _attempt in range(ATTEMPTS):
        context = stack_browser.new_context(locale="en-GB")
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        offset = log.stat().st_size
        _sso_sign_in(page, stack, "amira")
        assert "Signed in with the city's account" in page.content()
        # An administrator by the provider's roles claim, with its second factor.
        page.goto(f"{stack.url}/admin/sessions")
        assert page.locator("h1").inner_text() == "Active sessions"
        cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        page.locator("form[action='/logout'] button").click()
        page.wait_for_url(f"{stack.url}/login")
        page.goto(f"{stack.url}/")
        assert page.url.startswith(f"{stack.url}/login")  # signed out
        assert errors == []
        context.close()
        served.append(_upstreams(log, offset))
        if served[-1]["/sso/login"] != served[-1]["/sso/callback"]:
            break
    instances = {f"{stack.host}:{port}" for port in stack.app_ports}
    assert all(set(one.values()) <= instances for one in served), served
    assert served[-1]["/sso/login"] != served[-1]["/sso/callback"], served


def _session_cookie(response: requests.Response) -> str:
    cookie = SimpleCookie()
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie.load(header)
    assert COOKIE in cookie and cookie[COOKIE]["secure"], response.headers
    return cookie[COOKIE].value


@pytest.mark.parametrize(("start", "finish"), [(0, 1), (1, 0)])
def test_a_sign_in_started_on_one_instance_completes_on_the_other(
    stack: Stack, start: int, finish: int
) -> None:
    assert stack.oidc and stack.oidc.ca_file
    public = urlsplit(stack.url).netloc
    # What nginx adds (config/nginx/citycard.conf); the instances trust one proxy hop.
    forwarded = {
        "Host": public,
        "X-Forwarded-Host": public,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "127.0.0.1",
    }

    def instance(index: int) -> str:
        return f"http://{stack.host}:{stack.app_ports[index]}"

    begun = requests.get(
        f"{instance(start)}/sso/login", headers=forwarded, allow_redirects=False, timeout=10
    )
    assert begun.status_code == 302, begun.text[:300]
    location = begun.headers["Location"]
    assert location.startswith(f"{stack.oidc.issuer}/")
    assert parse_qs(urlsplit(location).query)["redirect_uri"] == [stack.sso_redirect_uri]
    pending = _session_cookie(begun)
    back = sign_in_at_provider(
        location, "bruno", stack.sso_redirect_uri, verify=str(stack.oidc.ca_file)
    )
    parts = urlsplit(back)
    done = requests.get(
        f"{instance(finish)}{parts.path}?{parts.query}",
        headers={**forwarded, "Cookie": f"{COOKIE}={pending}"},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 302 and done.headers["Location"] == "/", done.text[:500]
    signed_in = _session_cookie(done)
    assert signed_in != pending  # a new session id at sign-in
    # Through nginx, on whichever instance: signed in as the provider's clerk.
    home = requests.get(
        f"{stack.url}/",
        cookies={COOKIE: signed_in},
        verify=str(stack.ca_file),
        allow_redirects=False,
        timeout=10,
    )
    assert home.status_code == 200 and "bruno" in home.text
