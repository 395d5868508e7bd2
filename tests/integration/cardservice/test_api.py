"""The JSON API: the happy paths of docs/interfaces.md, problem+json errors, the role matrix."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import cardformat

from .conftest import auth, make_photo

PROBLEM = "application/problem+json"


def enrol_json(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "display_name": "Oksana Kovalenko",
        "birth_date": "1985-11-02",
        "gender_marker": "X",
        "address": None,
        "preferred_language": "fr",
        "photo": base64.b64encode(make_photo()).decode(),
        "documents": ["consular_id", "shelter_letter"],
    }
    body.update(overrides)
    return body


def enrol(client: FlaskClient, token: str, **overrides: Any) -> str:
    response = client.post("/api/v1/residents", json=enrol_json(**overrides), headers=auth(token))
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    if code is not None:
        assert body["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return dict(body)


def test_policy(client, city, tokens) -> None:
    body = client.get("/api/v1/policy", headers=auth(tokens["clerk"])).get_json()
    assert body["minimums"] == {"identity": 3, "residence": 1}
    ids = {d["id"]: d for d in body["documents"]}
    assert ids["passport"] == {**ids["passport"], "points": 3, "kind": "identity"}
    assert all(set(d) >= {"id", "points", "kind"} for d in body["documents"])


def test_enrol_issue_get_revoke_flow(client, city, tokens) -> None:
    clerk, supervisor = tokens["clerk"], tokens["supervisor"]
    response = client.post("/api/v1/residents", json=enrol_json(), headers=auth(clerk))
    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/residents/{created['id']}")
    assert created["points"] == {"identity": 3, "residence": 1}
    assert created["possible_duplicate"] is False
    assert "Hand the documents back" in created["message"]

    resident = client.get(f"/api/v1/residents/{created['id']}", headers=auth(clerk)).get_json()
    assert resident["display_name"] == "Oksana Kovalenko"
    assert resident["birth_date"] == "1985-11-02"
    assert resident["gender_marker"] == "X"
    assert resident["address"] is None
    assert base64.b64decode(resident["photo"]).startswith(b"\xff\xd8")
    assert resident["cards"] == []

    response = client.post(f"/api/v1/residents/{created['id']}/cards", headers=auth(clerk))
    assert response.status_code == 201
    issued = response.get_json()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{3}", issued["number"])
    assert issued["qr"].startswith("MC1:")
    today = datetime.now(UTC).date()
    assert issued["expires"] in {
        today.replace(year=today.year + 5, day=min(today.day, 28)).isoformat(),
        today.replace(year=today.year + 5).isoformat()
        if (today.month, today.day) != (2, 29)
        else "",
    }
    assert cardformat.normalize_card_number(issued["number"]) == issued["number"]

    card = client.get(f"/api/v1/cards/{issued['number']}", headers=auth(clerk)).get_json()
    assert card["status"] == "valid" and card["resident_id"] == created["id"]
    # Numbers are accepted the way people type them.
    lower = issued["number"].lower().replace("-", "")
    assert client.get(f"/api/v1/cards/{lower}", headers=auth(clerk)).status_code == 200

    response = client.post(
        f"/api/v1/cards/{issued['number']}/revoke",
        json={"reason": "lost"},
        headers=auth(supervisor),
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "revoked"
    assert_problem(
        client.post(
            f"/api/v1/cards/{issued['number']}/revoke",
            json={"reason": "lost"},
            headers=auth(supervisor),
        ),
        409,
        "card_revoked",
    )


def test_second_card_conflicts(client, city, tokens) -> None:
    rid = enrol(client, tokens["clerk"])
    assert (
        client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])).status_code
        == 201
    )
    assert_problem(
        client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])),
        409,
        "card_exists",
    )


def test_erasure_endpoint(client, city, tokens) -> None:
    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    response = client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200
    assert response.get_json() == {"id": rid, "erased": True, "revoked_cards": [number]}
    assert_problem(client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"])), 404)
    card = client.get(f"/api/v1/cards/{number}", headers=auth(tokens["clerk"])).get_json()
    assert card["status"] == "revoked" and card["resident_id"] is None
    assert_problem(
        client.delete(f"/api/v1/residents/{rid}", headers=auth(tokens["supervisor"])), 404
    )


def test_duplicate_flag(client, city, tokens) -> None:
    enrol(client, tokens["clerk"])
    response = client.post(
        "/api/v1/residents",
        json=enrol_json(display_name="OKSANA kovalenko"),
        headers=auth(tokens["clerk"]),
    )
    assert response.status_code == 201
    assert response.get_json()["possible_duplicate"] is True


def test_insufficient_documents_problem(client, city, tokens) -> None:
    body = assert_problem(
        client.post(
            "/api/v1/residents",
            json=enrol_json(documents=["birth_certificate"]),
            headers=auth(tokens["clerk"]),
        ),
        422,
        "insufficient_documents",
    )
    assert body["points"] == {"identity": 2, "residence": 0}
    assert body["minimums"] == {"identity": 3, "residence": 1}


def test_validation_problem_lists_fields(client, city, tokens) -> None:
    body = assert_problem(
        client.post(
            "/api/v1/residents",
            json=enrol_json(display_name="", birth_date="yesterday", gender_marker="Z"),
            headers=auth(tokens["clerk"]),
        ),
        422,
        "invalid_input",
    )
    assert set(body["errors"]) == {"display_name", "birth_date", "gender_marker"}


def test_error_messages_follow_accept_language(client, city, tokens) -> None:
    headers = {**auth(tokens["clerk"]), "Accept-Language": "fr"}
    body = client.post("/api/v1/residents", json=enrol_json(display_name=""), headers=headers)
    english = client.post(
        "/api/v1/residents", json=enrol_json(display_name=""), headers=auth(tokens["clerk"])
    )
    assert english.get_json()["errors"]["display_name"] == "The display name is required."
    assert body.get_json()["errors"]["display_name"] == "Le nom d'usage est obligatoire."


def test_unknown_fields_refused(client, city, tokens) -> None:
    for forbidden in ("nationality", "document_number", "immigration_status", "document_scan"):
        body = assert_problem(
            client.post(
                "/api/v1/residents",
                json=enrol_json(**{forbidden: "x"}),
                headers=auth(tokens["clerk"]),
            ),
            422,
            "unknown_field",
        )
        assert forbidden in body["detail"]


def test_openapi_describes_every_endpoint(app: Flask, client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    described = set()
    for path, item in document["paths"].items():
        for method in item:
            if method != "parameters":
                described.add((method.upper(), "/api/v1" + path))
    actual = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                actual.add((method, path))
    assert described == actual
    # Documented roles match the enforced ones.
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        required = getattr(view, "required_role", None)
        if required is None or not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)[len("/api/v1") :]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert document["paths"][path][method.lower()]["x-required-role"] == required


# -- role matrix ------------------------------------------------------------------------------

RANK = {"clerk": 1, "supervisor": 2, "admin": 3}


def _api_routes(app: Flask) -> list[tuple[str, str, str | None]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        required = getattr(app.view_functions[rule.endpoint], "required_role", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule, required))
    return routes


def _concrete(rule: str, rid: str, number: str) -> str:
    return rule.replace("<resident_id>", rid).replace("<number>", number)


def test_role_matrix(app: Flask, client, city, tokens) -> None:
    routes = _api_routes(app)
    assert len(routes) >= 9
    for method, rule, required in routes:
        # Fresh objects per route: some endpoints (erase, revoke) consume them.
        rid = enrol(client, tokens["clerk"], display_name=f"Person {len(rule)} {method}")
        number = client.post(
            f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
        ).get_json()["number"]
        url = _concrete(rule, rid, number)
        body = {"reason": "lost"} if method == "POST" else None
        if required is None:  # only the OpenAPI document is public
            assert rule == "/api/v1/openapi.json"
            assert client.open(url, method=method).status_code == 200
            continue
        assert_problem(client.open(url, method=method, json=body), 401, "invalid_token")
        assert_problem(
            client.open(url, method=method, json=body, headers=auth("cst_not-a-real-token")),
            401,
        )
        for role in ("clerk", "supervisor", "admin"):
            if RANK[role] < RANK[required]:
                assert_problem(
                    client.open(url, method=method, json=body, headers=auth(tokens[role])),
                    403,
                    "forbidden",
                )
        allowed = [r for r in RANK if RANK[r] >= RANK[required]]
        response = client.open(url, method=method, json=body, headers=auth(tokens[allowed[0]]))
        assert response.status_code not in (401, 403), (method, rule, allowed[0])


def test_revoked_token_refused(app, client, session, city, tokens) -> None:
    from cardservice.services import Actor
    from cardservice.services.tokens import revoke_token

    from .conftest import NOW

    revoke_token(session, name="clerk-token", now=NOW, actor=Actor.system("tests"))
    assert_problem(client.get("/api/v1/policy", headers=auth(tokens["clerk"])), 401)


def test_not_found_and_method_errors_are_problems(client, city, tokens) -> None:
    assert_problem(client.get("/api/v1/nope", headers=auth(tokens["clerk"])), 404, "not_found")
    assert_problem(client.put("/api/v1/policy", headers=auth(tokens["clerk"])), 405)


def test_security_headers(client, city) -> None:
    response = client.get("/api/v1/openapi.json")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_settings(app: Flask) -> None:
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["status_lists"] == {"ok": True, "mismatched": []}
    assert body["signing_key"]["state"] == "none"  # no city set up: no key


@pytest.mark.parametrize("layout", ["card", "a4"])
def test_card_pdf(client, city, tokens, layout: str) -> None:
    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    response = client.get(
        f"/api/v1/cards/{number}.pdf?layout={layout}", headers=auth(tokens["clerk"])
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert_problem(
        client.get(f"/api/v1/cards/{number}.pdf?layout=poster", headers=auth(tokens["clerk"])), 422
    )


def test_policy_names_in_the_requested_language(client, city, tokens) -> None:
    french = client.get(
        "/api/v1/policy", headers={**auth(tokens["clerk"]), "Accept-Language": "fr-FR,fr;q=0.9"}
    ).get_json()
    names = {d["id"]: d["name"] for d in french["documents"]}
    assert names["passport"].startswith("Passeport")
    english = client.get("/api/v1/policy", headers=auth(tokens["clerk"])).get_json()
    assert {d["id"]: d["name"] for d in english["documents"]}["passport"].startswith("Passport")


def test_api_needs_no_csrf_token(app: Flask, client, city, tokens) -> None:
    assert app.config.get("WTF_CSRF_ENABLED", True)
    response = client.post("/api/v1/residents", json=enrol_json(), headers=auth(tokens["clerk"]))
    assert response.status_code == 201


def test_html_errors_without_traceback(client) -> None:
    response = client.get("/no-such-page-<script>")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "<script>" not in text and "Traceback" not in text
    assert response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "name",
    [
        "m" * 100,  # the card format's 100 bytes of the widest letter
        "مهرداد نیک\u200cن\u0627م",  # Persian with a zero-width non-joiner
        "क्\u200dष्मा राणा",  # Devanagari with a zero-width joiner
    ],
)
def test_enrolment_accepts_every_name_the_card_format_accepts(client, city, tokens, name) -> None:
    assert cardformat.validate_holder_name(name) == name
    rid = enrol(client, tokens["clerk"], display_name=name)
    resident = client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"])).get_json()
    assert resident["display_name"] == name


def test_an_expired_card_reads_as_expired_as_on_the_counter(client, session, city, tokens) -> None:
    from cardservice.models import Card

    rid = enrol(client, tokens["clerk"])
    issued = client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"]))
    number = issued.get_json()["number"]
    card = client.get(f"/api/v1/cards/{number}", headers=auth(tokens["clerk"])).get_json()
    assert card["status"] == "valid"
    # Its expiry passed (moving the card rather than the clock keeps the API token valid).
    stored = session.scalars(select(Card).where(Card.number == number)).one()
    stored.expires_at = datetime.now(UTC) - timedelta(days=1)
    session.commit()
    card = client.get(f"/api/v1/cards/{number}", headers=auth(tokens["clerk"])).get_json()
    assert card["status"] == "expired"
    resident = client.get(f"/api/v1/residents/{rid}", headers=auth(tokens["clerk"])).get_json()
    assert [c["status"] for c in resident["cards"]] == ["expired"]
