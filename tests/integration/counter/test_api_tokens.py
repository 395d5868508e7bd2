"""API tokens (issue #13): expiry, scopes, a rate limit per token, audited look-ups and the one
404 for a card that does not exist and a card the token may not see."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.extensions import db
from cardservice.models import AuditEntry
from cardservice.ratelimit import limiter
from cardservice.services import Actor
from cardservice.services import tokens as token_service
from cardservice.services.errors import ValidationError
from cardservice.services.tokenscopes import SCOPES, required_scope

from .support import enrol, login, post, resident_id_from


def _token(app: Flask, role: str = "clerk", **options: Any) -> Any:
    with app.app_context():
        created = token_service.create_token(
            db.session,
            name=options.pop("name", f"{role}-{len(options)}-{datetime.now(UTC).timestamp()}"),
            role=role,
            now=options.pop("now", datetime.now(UTC)),
            actor=Actor.system("tests"),
            **options,
        )
        db.session.remove()
    return created


def _auth(created: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.token}"}


def _card(app: Flask, name: str = "Amina Haddad") -> tuple[str, str]:
    """A resident with one card, made at the counter: (resident id, card number). Each
    resident needs a name of their own: the counter stops at a possible duplicate."""
    clerk = app.test_client()
    assert login(clerk, "clerk").status_code == 302
    resident_id = resident_id_from(enrol(clerk, display_name=name))
    post(clerk, f"/residents/{resident_id}/cards")
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    number = re.search(r'id="card-([0-9A-Z]{4}-[0-9A-Z]{3})"', page)
    assert number
    return resident_id, number.group(1)


def _audit(app: Flask) -> list[tuple[str, str | None, str | None, str | None]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        entries = [(e.action, e.actor, e.card_number, e.detail) for e in rows]
        db.session.remove()
    return entries


def test_tokens_expire_after_90_days_by_default(app: Flask) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    created = _token(app, now=now)
    assert created.expires_at == now + timedelta(days=90)
    client = app.test_client()
    assert client.get("/api/v1/policy", headers=_auth(created)).status_code == 200
    old = _token(app, now=now - timedelta(days=91))
    response = client.get("/api/v1/policy", headers=_auth(old))
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"
    assert "expired" in response.get_json()["detail"]
    short = _token(app, days=1, now=now - timedelta(days=1, seconds=1))
    assert client.get("/api/v1/policy", headers=_auth(short)).status_code == 401


def test_scopes_limit_the_endpoints(app: Flask) -> None:
    _resident, number = _card(app)
    reader = _token(app, scopes="cards:read")
    assert reader.scopes == ("cards:read",)
    client = app.test_client()
    assert client.get(f"/api/v1/cards/{number}", headers=_auth(reader)).status_code == 200
    for method, path in (
        ("GET", "/api/v1/policy"),
        ("GET", f"/api/v1/cards/{number}.pdf"),
        ("POST", "/api/v1/residents"),
    ):
        response = client.open(path, method=method, headers=_auth(reader), json={})
        assert response.status_code == 403, path
        assert response.get_json()["code"] == "insufficient_scope"
    # The role still bounds the scopes: a clerk token never revokes, whatever it holds.
    everything = _token(app)
    assert "cards:revoke" not in everything.scopes and "cards:read" in everything.scopes


def test_scopes_are_checked_when_the_token_is_made(app: Flask) -> None:
    with pytest.raises(ValidationError) as unknown:
        _token(app, scopes="cards:read everything")
    assert "everything" in str(unknown.value.errors["scopes"])
    with pytest.raises(ValidationError) as beyond:
        _token(app, role="clerk", scopes="residents:erase")
    assert "residents:erase" in str(beyond.value.errors["scopes"])
    with pytest.raises(ValidationError):
        _token(app, days=400)


def test_every_api_route_has_a_scope(app: Flask) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint.startswith("api.") and hasattr(view, "required_role"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert required_scope(method, rule.rule), (method, rule.rule)
                routes.add((method, rule.rule))
    assert routes == set(SCOPES)  # and no scope names a route that is gone
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    published = {
        (method.upper(), "/api/v1" + path.replace("{", "<").replace("}", ">")): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "x-required-role" in operation
    }
    assert {key: op["x-required-scope"] for key, op in published.items()} == SCOPES


def test_one_404_for_unknown_malformed_and_unseen_cards(app: Flask) -> None:
    _resident_id, number = _card(app)
    _other_resident, erased_number = _card(app, "Yusuf Demir")
    supervisor = _token(app, role="supervisor")
    client = app.test_client()
    erased = client.delete(f"/api/v1/residents/{_other_resident}", headers=_auth(supervisor))
    assert erased.status_code == 200
    clerk = _token(app)
    answers = []
    for probe in ("ZZZZ-ZZZ", number[:-1] + ("0" if number[-1] != "0" else "1"), erased_number):
        response = client.get(f"/api/v1/cards/{probe}", headers=_auth(clerk))
        answers.append(
            (response.status_code, response.get_data(), sorted(response.headers.items()))
        )
    assert answers[0][0] == 404
    assert answers[0] == answers[1] == answers[2]
    assert client.get(f"/api/v1/cards/{number}", headers=_auth(clerk)).status_code == 200


def test_every_look_up_is_audited_hit_or_miss(app: Flask) -> None:
    resident_id, number = _card(app)
    clerk = _token(app)
    client = app.test_client()
    before = len(_audit(app))
    assert client.get(f"/api/v1/cards/{number}", headers=_auth(clerk)).status_code == 200
    assert client.get("/api/v1/cards/ZZZZ-ZZZ", headers=_auth(clerk)).status_code == 404
    assert client.get(f"/api/v1/residents/{resident_id}", headers=_auth(clerk)).status_code == 200
    assert client.get("/api/v1/residents/" + "f" * 32, headers=_auth(clerk)).status_code == 404
    actor = f"token:{clerk.id}"
    assert _audit(app)[before:] == [
        ("card.view", actor, number, None),
        ("card.lookup_miss", actor, None, "not_found"),  # never the number it tried
        ("resident.view", actor, None, None),
        ("resident.lookup_miss", actor, None, "not_found"),
    ]


def test_last_use_and_expiry_are_shown_to_administrators(app: Flask, admin: FlaskClient) -> None:
    created = _token(app, name="kiosk", scopes="cards:read policy:read")
    app.test_client().get("/api/v1/policy", headers=_auth(created))
    page = admin.get("/admin/tokens", headers={"Accept-Language": "en"}).get_data(as_text=True)
    row = page[page.index("kiosk") :][:1500]
    assert "cards:read, policy:read" in row
    assert "Never" not in row  # used just now
    expires = created.expires_at
    assert str(expires.year) in row[row.index("cards:read") :] or str(expires.year % 100) in row


@pytest.fixture
def limited(second_app: Callable[..., Flask]) -> Iterator[Callable[..., Flask]]:
    """Second apps on the test's database with the rate limits on (Flask-Limiter's switch is
    module-wide: put back as it was for later tests)."""
    enabled = limiter.enabled
    yield lambda **overrides: second_app(RATELIMIT_ENABLED=True, **overrides)
    limiter.enabled = enabled


def test_a_rate_limit_per_token(app: Flask, limited: Callable[..., Flask]) -> None:
    fast = limited(RATELIMIT_TOKEN="3 per minute")
    greedy, patient = _token(fast), _token(fast)
    client = fast.test_client()
    for _ in range(3):
        assert client.get("/api/v1/cards/ZZZZ-ZZZ", headers=_auth(greedy)).status_code == 404
    refused = client.get("/api/v1/cards/ZZZZ-ZZZ", headers=_auth(greedy))
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another token is counted on its own, from the same client.
    assert client.get("/api/v1/cards/ZZZZ-ZZZ", headers=_auth(patient)).status_code == 404


def test_the_token_settings(tmp_path: Path) -> None:
    from cardservice.authconfig import token_settings

    assert token_settings({}) == {
        "TOKEN_DAYS": 90,
        "RATELIMIT_TOKEN": "5 per second;120 per minute",
    }
    with pytest.raises(RuntimeError):
        token_settings({"CARDSERVICE_RATELIMIT_TOKEN": "lots"})
    with pytest.raises(RuntimeError):
        token_settings({"CARDSERVICE_TOKEN_DAYS": "0"})


def test_the_cli_makes_scoped_tokens_with_an_expiry(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["tokens", "create", "kiosk", "--scopes", "cards:read,policy:read", "--days", "7"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/policy", headers=headers).status_code == 200
    assert client.post("/api/v1/residents", headers=headers, json={}).status_code == 403
    refused = runner.invoke(args=["tokens", "create", "wide", "--scopes", "residents:erase"])
    assert refused.exit_code != 0 and "residents:erase" in refused.output
