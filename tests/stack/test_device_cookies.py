"""Device cookies on the deployed stack (services/devices.py): a browser trusted by one instance
is trusted by the other, over HTTPS behind nginx, on PostgreSQL.

The requests go to each instance directly, with the headers nginx adds (as in test_sso.py), so
that the cookie is issued by one instance and presented to the other whatever nginx would
choose. The account is locked in the database, as five wrong passwords would lock it: the
sign-in rate limit is per client address, and every test of the stack signs in from the same
one.
"""

from __future__ import annotations

import re
import secrets
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from scripts.stack import Stack

pytestmark = pytest.mark.stack

DEVICE = "cardservice_device"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class _Browser:
    """A browser's cookies, sent to whichever instance a request names."""

    def __init__(self, stack: Stack, cookies: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.cookies = dict(cookies or {})
        self.set: dict[str, Morsel[str]] = {}

    def request(self, instance: int, method: str, path: str, **kw: Any) -> requests.Response:
        public = urlsplit(self.stack.url).netloc
        headers = {
            "Host": public,
            "X-Forwarded-Host": public,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "127.0.0.1",
            "Origin": self.stack.url,  # a form posted over HTTPS names its origin
            "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
        }
        port = self.stack.app_ports[instance]
        response = requests.request(
            method,
            f"http://{self.stack.host}:{port}{path}",
            headers=headers,
            allow_redirects=False,
            timeout=10,
            **kw,
        )
        jar: SimpleCookie = SimpleCookie()
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar.load(header)
        for name, morsel in jar.items():
            self.cookies[name] = morsel.value
            self.set[name] = morsel
        return response

    def submit(self, instance: int, path: str, fields: dict[str, str]) -> requests.Response:
        page = self.request(instance, "GET", path)
        token = _CSRF.search(page.text)
        assert token, page.text[:300]
        return self.request(instance, "POST", path, data={**fields, "csrf_token": token[1]})


def test_a_browser_trusted_by_one_instance_signs_in_through_the_other_while_locked(
    stack: Stack, stack_run: dict[str, set[str]]
) -> None:
    first, chosen = (f"{secrets.token_urlsafe(12)} counter pass {i}" for i in range(2))
    stack_run["secrets"].update({first, chosen})
    stack.cardservice_cli(
        "users", "create", "dora", "--role", "clerk", "--password-stdin", stdin=first + "\n"
    )
    owner = _Browser(stack)
    signed = owner.submit(0, "/login", {"username": "dora", "password": first})
    assert signed.headers.get("Location") == "/login/password", signed.text[:300]
    changed = owner.submit(0, "/login/password", {"password": chosen, "confirm": chosen})
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    issued = owner.set[DEVICE]
    assert issued["secure"] and issued["httponly"] and issued["samesite"] == "Strict"
    assert issued["path"] == "/login"
    stack_run["secrets"].add(issued.value)

    stack.database_rows(
        stack.databases[0],
        "UPDATE staff_user SET locked_until = (now() AT TIME ZONE 'utc') + interval '10 minutes'"
        " WHERE username = 'dora'",
    )
    # An untrusted browser, the right password notwithstanding: the account's lockout.
    refused = _Browser(stack).submit(1, "/login", {"username": "dora", "password": chosen})
    assert refused.status_code == 422
    # The owner's browser, at the other instance: its own counter, not locked.
    returning = _Browser(stack, {DEVICE: issued.value})
    back = returning.submit(1, "/login", {"username": "dora", "password": chosen})
    assert back.status_code == 302 and back.headers["Location"] == "/", back.text[:300]
    assert returning.cookies[DEVICE] != issued.value  # rotated at the sign-in
    stack_run["secrets"].add(returning.cookies[DEVICE])
    # The first instance knows the new cookie, and no longer the old one.
    again = _Browser(stack, {DEVICE: issued.value})
    assert again.submit(0, "/login", {"username": "dora", "password": chosen}).status_code == 422
