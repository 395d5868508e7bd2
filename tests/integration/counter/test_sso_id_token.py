"""ID tokens the counter must refuse, put in front of it by an attacker in the middle.

The real provider of tests/oidc runs behind a tampering proxy (tests/oidc/tamper.py) whose
address is the provider's issuer: the service talks to the real provider through it, and the
proxy replaces only the ID token in the token endpoint's answer. Each refusal is a clear page,
no session signed in, no account or link made, and a log line naming the failure, never the
member or the token.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import func, select

from cardservice.extensions import db
from cardservice.models import StaffIdentity, StaffSession
from tests.oidc.harness import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    client,
    run_provider,
    sign_in_at_provider,
    token_response,
)
from tests.oidc.tamper import TamperingProxy, running_proxy

from .sso_support import callback, staff

CALLBACK = "http://localhost/sso/callback"
OTHER_CLIENT = "another-city-app"  # a second application of the city at the same provider
SHORT_LIVED = "cardservice-short-lived"  # this service registered with 1 s ID tokens
REFUSED = "The sign-in could not be completed"

Tamper = Callable[[str], str]


def _signing_keys() -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": "city-signing-1"}, private=True)
    return {"keys": [key.as_dict(private=True)]}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return _signing_keys()


@pytest.fixture(scope="module")
def attacker(keys: dict[str, Any]) -> Iterator[tuple[TamperingProxy, Provider]]:
    others = [client(OTHER_CLIENT, [CALLBACK]), client(SHORT_LIVED, [CALLBACK])]
    with (
        running_proxy() as proxy,
        run_provider(
            [CALLBACK], clients=others, issuer=proxy.url, jwks=keys, id_token_ttl={SHORT_LIVED: 1}
        ) as provider,
    ):
        proxy.target = provider.address
        yield proxy, provider


@pytest.fixture(scope="module")
def other_tenant(keys: dict[str, Any]) -> Iterator[Provider]:
    """Another issuer signing with the same keys, as the tenants of a multi-tenant service do."""
    with run_provider([CALLBACK], jwks=keys) as provider:
        yield provider


@pytest.fixture
def proxy(attacker: tuple[TamperingProxy, Provider]) -> TamperingProxy:
    return attacker[0].reset()


@pytest.fixture
def sso_app(second_app: Callable[..., Flask], attacker: tuple[TamperingProxy, Provider]) -> Flask:
    return second_app(environ=attacker[1].env())


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _signature = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, payload)
    )


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _start(client_: FlaskClient) -> tuple[str, str]:
    """The authorization request's URL and its nonce."""
    location = client_.get("/sso/login").headers["Location"]
    return location, parse_qs(urlsplit(location).query)["nonce"][0]


def _staff_sessions(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(StaffSession).where(StaffSession.staff_id.is_not(None))
        )
        db.session.remove()
    return int(count or 0)


def _assert_refused(
    app: Flask, client_: FlaskClient, back: str, caplog: pytest.LogCaptureFixture
) -> str:
    """The callback at ``back`` is refused as it should be; returns the log line it wrote."""
    sessions = _staff_sessions(app)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cardservice.sso"):
        response = callback(client_, back)
    assert response.status_code == 400, response.status_code  # type: ignore[attr-defined]
    assert REFUSED in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client_.get("/").status_code == 302  # not signed in
    assert staff(app, "bruno") is None
    with app.app_context():
        assert (
            db.session.scalars(
                select(StaffIdentity).where(StaffIdentity.subject == "bruno")
            ).first()
            is None
        )
        db.session.remove()
    assert _staff_sessions(app) == sessions
    lines = [r.getMessage() for r in caplog.records if r.name == "cardservice.sso"]
    assert len(lines) == 1 and lines[0].startswith("single sign-on failed: "), lines
    query = parse_qs(urlsplit(back).query)
    for secret in ("bruno", query["code"][0], query["state"][0], CLIENT_SECRET):
        assert secret not in lines[0]
    return lines[0]


def _attack(
    app: Flask, proxy: TamperingProxy, prepare: Callable[[str], Tamper], caplog: Any
) -> str:
    """Bruno signs in; the proxy replaces his ID token by what ``prepare(nonce)`` (called with
    this login's nonce, before the provider is asked) makes of it."""
    browser = app.test_client()
    location, nonce = _start(browser)
    proxy.replace = prepare(nonce)
    back = sign_in_at_provider(location, "bruno", CALLBACK)
    line = _assert_refused(app, browser, back, caplog)
    assert proxy.seen, "the token endpoint's answer did not go through the proxy"
    for token in proxy.seen:
        assert token.split(".")[2] not in line
    return line


def test_through_the_proxy_an_untouched_token_signs_in(
    sso_app: Flask, proxy: TamperingProxy
) -> None:
    # The control: the proxy itself breaks nothing, so each refusal below is the token's.
    browser = sso_app.test_client()
    location, _nonce = _start(browser)
    response = callback(browser, sign_in_at_provider(location, "bruno", CALLBACK))
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert browser.get("/").status_code == 200 and len(proxy.seen) == 1


def test_a_token_signed_with_another_key_is_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    forger = RSAKey.generate_key(2048, private=True)

    def forge(real: str) -> str:
        header, claims = _parts(real)  # the provider's key id, every claim valid
        return jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, forger)

    assert "BadSignatureError" in _attack(sso_app, proxy, lambda nonce: forge, caplog)


def test_claims_changed_under_the_providers_signature_are_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    def promote(real: str) -> str:
        header, _payload, signature = real.split(".")
        _header, claims = _parts(real)
        claims["roles"] = ["cardservice-admin"]
        return f"{header}.{_b64(claims)}.{signature}"

    assert "BadSignatureError" in _attack(sso_app, proxy, lambda nonce: promote, caplog)


def test_an_unsigned_token_is_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    def unsigned(real: str) -> str:
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_parts(real)[1])}."

    assert "UnsupportedAlgorithmError" in _attack(sso_app, proxy, lambda nonce: unsigned, caplog)


def test_a_token_signed_with_the_client_secret_is_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # HS256 with the client secret: what a provider's own HMAC tokens look like, and what a
    # leaked secret would let anyone make. The provider advertises RS256 only.
    secret = OctKey.import_key(CLIENT_SECRET)

    def hmac(real: str) -> str:
        header, claims = _parts(real)
        return jwt.encode({"alg": "HS256", "kid": header["kid"]}, claims, secret, ["HS256"])

    assert "UnsupportedAlgorithmError" in _attack(sso_app, proxy, lambda nonce: hmac, caplog)


def test_a_real_token_issued_to_another_client_is_refused(
    sso_app: Flask,
    attacker: tuple[TamperingProxy, Provider],
    proxy: TamperingProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = attacker[1].issuer

    def other_clients(nonce: str) -> Tamper:
        # Bruno's real token for the city's other application, even with this login's nonce.
        token = token_response(issuer, OTHER_CLIENT, CALLBACK, "bruno", nonce=nonce)["id_token"]
        return lambda real: str(token)

    assert "'aud'" in _attack(sso_app, proxy, other_clients, caplog)


def test_a_real_token_from_another_issuer_with_the_same_keys_is_refused(
    sso_app: Flask,
    other_tenant: Provider,
    proxy: TamperingProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def other_issuers(nonce: str) -> Tamper:
        tokens = token_response(other_tenant.issuer, CLIENT_ID, CALLBACK, "bruno", nonce=nonce)
        token = str(tokens["id_token"])
        assert _parts(token)[0]["kid"] == "city-signing-1"  # same key, same key id
        return lambda real: token

    assert "'iss'" in _attack(sso_app, proxy, other_issuers, caplog)


def test_a_token_held_back_until_it_expired_is_refused(
    second_app: Callable[..., Flask],
    attacker: tuple[TamperingProxy, Provider],
    proxy: TamperingProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # This service registered with 1 s ID tokens, and no leeway: the proxy holds the real
    # answer back 2 s.
    short = second_app(
        environ=attacker[1].env(
            CARDSERVICE_OIDC_CLIENT_ID=SHORT_LIVED, CARDSERVICE_OIDC_CLOCK_SKEW_SECONDS="0"
        )
    )

    def held_back(real: str) -> str:
        _header, claims = _parts(real)
        assert claims["exp"] - claims["iat"] == 1
        time.sleep(max(0.0, claims["exp"] + 1 - time.time()))
        return real

    assert "ExpiredTokenError" in _attack(short, proxy, lambda nonce: held_back, caplog)


def test_the_leeway_on_expiry_is_the_configured_clock_skew(
    sso_app: Flask,
    proxy: TamperingProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The provider's ID tokens live an hour; the counter's clock is 31 s past that when the
    # token arrives: beyond the default 30 s of skew (Authlib's own leeway would be 120 s).
    assert sso_app.config["OIDC_CLOCK_SKEW_SECONDS"] == 30

    def an_hour_on(nonce: str) -> Tamper:
        later = timedelta(hours=1, seconds=31)
        monkeypatch.setattr(
            "cardservice.counter.views.sso.utcnow", lambda: datetime.now(UTC) + later
        )
        return lambda real: real  # the real token, untouched

    assert "ExpiredTokenError" in _attack(sso_app, proxy, an_hour_on, caplog)


def test_another_logins_token_is_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # Amira signs in; her ID token, captured on the way, is replayed into Bruno's login.
    earlier = sso_app.test_client()
    location, _nonce = _start(earlier)
    assert callback(earlier, sign_in_at_provider(location, "amira", CALLBACK)).status_code == 302  # type: ignore[attr-defined]
    captured = proxy.seen[-1]
    line = _attack(sso_app, proxy, lambda nonce: lambda real: captured, caplog)
    assert "'nonce'" in line and "amira" not in line


def test_a_state_from_another_session_or_used_once_is_refused(
    sso_app: Flask, proxy: TamperingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # Login CSRF: the attacker's own callback (his code, his state) sent to the victim's browser.
    attacker_browser = sso_app.test_client()
    attackers = sign_in_at_provider(_start(attacker_browser)[0], "bruno", CALLBACK)
    victim = sso_app.test_client()
    location, _nonce = _start(victim)
    assert "MismatchingStateError" in _assert_refused(sso_app, victim, attackers, caplog)
    # The victim's own state with the attacker's code: the code was bound to the attacker's
    # PKCE verifier, the provider refuses it; and the state is spent.
    genuine = sign_in_at_provider(location, "bruno", CALLBACK)
    query = parse_qs(urlsplit(genuine).query)
    query["code"] = parse_qs(urlsplit(attackers).query)["code"]
    swapped = f"{CALLBACK}?{urlencode(query, doseq=True)}"
    assert "OAuthError invalid_grant" in _assert_refused(sso_app, victim, swapped, caplog)
    assert "MismatchingStateError" in _assert_refused(sso_app, victim, genuine, caplog)


def test_an_authorization_response_from_another_issuer_is_refused(
    sso_app: Flask, other_tenant: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    # RFC 9207: the provider names itself in its response (its metadata says it does). One
    # naming another issuer, or none, is refused before its code is sent anywhere...
    browser = sso_app.test_client()
    location, _nonce = _start(browser)
    genuine = sign_in_at_provider(location, "bruno", CALLBACK)
    parts = urlsplit(genuine)
    query = parse_qs(parts.query)
    assert query["iss"] == [sso_app.config["OIDC_ISSUER"]]
    base = f"{CALLBACK}?{urlencode({'code': query['code'][0], 'state': query['state'][0]})}"
    mixed_up = f"{base}&{urlencode({'iss': other_tenant.issuer})}"
    assert "response_issuer_mismatch" in _assert_refused(sso_app, browser, mixed_up, caplog)
    assert "response_issuer_mismatch" in _assert_refused(sso_app, browser, base, caplog)
    # ... so the genuine response, its state and code unspent, still completes.
    assert callback(browser, genuine).status_code == 302  # type: ignore[attr-defined]
    assert browser.get("/").status_code == 200


def test_the_audience_must_name_this_client_not_only_the_authorized_party(
    sso_app: Flask,
) -> None:
    # No provider signs this for an attacker, so the check is shown on the claims themselves:
    # Authlib alone looks at aud only through azp, and would let this one through.
    from authlib.oidc.core import CodeIDToken
    from joserfc.errors import InvalidClaimError

    from cardservice.services.oidc import OidcRules, id_token_checks

    now = int(time.time())
    claims = {
        "iss": sso_app.config["OIDC_ISSUER"],
        "sub": "bruno",
        "aud": OTHER_CLIENT,
        "azp": CLIENT_ID,
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
    }
    header = {"alg": "RS256"}
    params = {"nonce": "n", "client_id": CLIENT_ID}
    CodeIDToken(claims, header, {"iss": {"values": [claims["iss"]]}}, params).validate(leeway=120)
    checks = id_token_checks(OidcRules.from_config(sso_app.config), lambda: datetime.now(UTC))
    with pytest.raises(InvalidClaimError, match="aud"):
        checks["claims_cls"](claims, header, checks["claims_options"], params).validate(leeway=30)
    claims["aud"] = [OTHER_CLIENT, CLIENT_ID]  # several audiences, this client among them
    checks["claims_cls"](claims, header, checks["claims_options"], params).validate(leeway=30)
