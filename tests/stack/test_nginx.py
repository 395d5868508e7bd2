"""nginx as configured by config/nginx/citycard.conf: what it logs and what it answers."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest

from scripts.stack import Stack

pytestmark = pytest.mark.stack

RESIDENT = "0123456789abcdef0123456789abcdef"
CARD = "K7QD-M2X"

# Request path -> what the access log must show for it.
REDACTED = {
    f"/residents/{RESIDENT}": "/residents/:id",
    f"/residents/{RESIDENT}/edit": "/residents/:id/edit",
    f"/residents/{RESIDENT}/cards": "/residents/:id/cards",
    f"/residents/{RESIDENT}/erase": "/residents/:id/erase",
    "/residents/new": "/residents/new",
    f"/cards/{CARD}/card.pdf": "/cards/:number/card.pdf",
    f"/cards/{CARD.lower()}/revoke": "/cards/:number/revoke",
    f"/api/v1/residents/{RESIDENT}": "/api/v1/residents/:id",
    f"/api/v1/residents/{RESIDENT}/cards": "/api/v1/residents/:id/cards",
    f"/api/v1/cards/{CARD}": "/api/v1/cards/:number",
    f"/api/v1/cards/{CARD}.pdf": "/api/v1/cards/:number.pdf",
    f"/api/v1/cards/{CARD}/revoke": "/api/v1/cards/:number/revoke",
    # Percent-encoded, or under a path no route knows: still not logged.
    f"/residents/%30{RESIDENT[1:]}": "/residents/:id",
    f"/no/such/{RESIDENT}/page": "/:redacted",
    # A search: the query string (a name) is never logged.
    "/api/v1/residents?name=Quillfeather&birth_date=1987-03-14": "/api/v1/residents",
}


def _get(stack: Stack, path: str) -> int:
    connection = http.client.HTTPSConnection(
        stack.host, stack.https_port, context=stack.ssl_context(), timeout=10
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_access_log_redacts_ids_numbers_and_queries(stack: Stack) -> None:
    log = stack.log_dir / "counter-access.log"
    before = len(log.read_text().splitlines())
    for path in REDACTED:
        assert _get(stack, path) < 500, path
    lines = log.read_text().splitlines()[before:]
    logged = [line.split('"')[1].split(" ")[1] for line in lines if '"GET ' in line]
    assert logged == list(REDACTED.values())
    text = "\n".join(lines)
    assert RESIDENT not in text and CARD not in text and "Quillfeather" not in text
    # No client address in nginx's log lines either (the browser and this test are 127.0.0.1).
    assert "127.0.0.1" not in text


def test_nginx_answers_with_hsts_once_and_no_version(stack: Stack) -> None:
    context = stack.ssl_context()
    for url in (f"{stack.url}/login", f"{stack.verifier_url}/"):
        with urllib.request.urlopen(url, context=context) as response:
            assert response.headers.get_all("Strict-Transport-Security") == [
                "max-age=63072000; includeSubDomains"
            ]
            assert response.headers["Server"] == "nginx"


def test_certificate_checks_are_on(stack: Stack) -> None:
    # The system's trust store does not know the throwaway CA: nothing in this suite passes
    # because a certificate check was off.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"{stack.url}/healthz", context=ssl.create_default_context())


def _verify_through_nginx(stack: Stack, body: bytes) -> int:
    """The status of a POST of ``body`` to the verifier's API, through nginx."""
    connection = http.client.HTTPSConnection(
        stack.host, stack.verifier_port, context=stack.ssl_context(), timeout=10
    )
    try:
        connection.request(
            "POST", "/api/v1/verify", body=body, headers={"Content-Type": "application/json"}
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_bodies_over_the_apps_limits_stop_at_nginx(stack: Stack) -> None:
    assert _verify_through_nginx(stack, b"{" + b" " * 9000 + b"}") == 413


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _sign_in_as_a_browser_posts(stack: Stack, origin: str) -> int:
    """GET the form, then POST it with an Origin and no Referer, as Chromium does when the page
    asked for no referrer to be sent; the answer's status (302 is signed in)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=stack.ssl_context()),
        urllib.request.HTTPCookieProcessor(jar),
        _NoRedirect(),
    )
    with opener.open(f"{stack.url}/login") as response:
        page = response.read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    body = urllib.parse.urlencode(
        {"username": "clerk", "password": stack.passwords["clerk"], "csrf_token": token.group(1)}
    ).encode()
    request = urllib.request.Request(f"{stack.url}/login", data=body, headers={"Origin": origin})
    try:
        with opener.open(request) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_sign_in_through_nginx_with_origin_and_no_referer(stack: Stack) -> None:
    # The Host nginx passes on keeps the port, so the app sees the browser's own origin.
    assert _sign_in_as_a_browser_posts(stack, stack.url) == 302
    assert _sign_in_as_a_browser_posts(stack, "https://evil.example") == 400


def test_both_apps_count_their_rate_limits_in_redis(stack: Stack) -> None:
    import redis

    assert _sign_in_as_a_browser_posts(stack, stack.url) == 302
    assert _verify_through_nginx(stack, b'{"qr": "MC1:NOT-A-CARD"}') < 500
    keys = [key.decode() for key in redis.Redis.from_url(stack.redis_url).scan_iter(count=1000)]
    # Shared counters, not one per worker: both instances and the verifier's workers see them.
    assert any("/cardservice/" in key and "login" in key for key in keys), keys
    assert any("verify" in key and "/cardservice/" not in key for key in keys), keys
