"""The API's duplicate check before a record exists, and its search for integrations."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cardservice.models import AuditEntry, Resident

from .conftest import auth
from .test_api import assert_problem, enrol, enrol_json

ZOE = "Zoé Ngọc Lâm-Dubois"


def _residents(session) -> int:
    return int(session.scalar(select(func.count()).select_from(Resident)))


def test_a_possible_duplicate_is_refused_until_confirmed(client, session, city, tokens) -> None:
    first = enrol(client, tokens["clerk"], display_name=ZOE)
    # The same person, typed without accents: nothing is written, the candidate is named.
    again = client.post(
        "/api/v1/residents",
        json=enrol_json(display_name="zoe ngoc lam-dubois"),
        headers=auth(tokens["clerk"]),
    )
    body = assert_problem(again, 409, "possible_duplicate")
    assert body["candidates"] == [first]
    assert _residents(session) == 1
    # Confirmed: enrolled, and the audit entry says a duplicate was possible.
    confirmed = client.post(
        "/api/v1/residents",
        json=enrol_json(display_name="zoe ngoc lam-dubois", confirm_duplicate=True),
        headers=auth(tokens["clerk"]),
    )
    assert confirmed.status_code == 201, confirmed.get_json()
    assert confirmed.get_json()["possible_duplicate"] is True
    assert _residents(session) == 2
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "resident.enrol").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.detail == "possible_duplicate"


def test_confirm_duplicate_must_be_a_boolean(client, city, tokens) -> None:
    response = client.post(
        "/api/v1/residents",
        json=enrol_json(confirm_duplicate="yes"),
        headers=auth(tokens["clerk"]),
    )
    body = assert_problem(response, 422)
    assert "confirm_duplicate" in body["errors"]


def test_search_by_folded_name_and_birth_date(client, session, city, tokens) -> None:
    plain = enrol(client, tokens["clerk"], display_name="Zoe Ngoc Lam Dubois")
    accented = client.post(
        "/api/v1/residents",
        json=enrol_json(display_name=ZOE, confirm_duplicate=True),
        headers=auth(tokens["clerk"]),
    ).get_json()["id"]
    response = client.get(
        "/api/v1/residents",
        query_string={"name": ZOE, "birth_date": "1985-11-02"},
        headers=auth(tokens["clerk"]),
    )
    assert response.status_code == 200
    results = response.get_json()["results"]
    # The exact spelling first, then the one spelled alike.
    assert [(r["id"], r["exact_name"]) for r in results] == [(accented, True), (plain, False)]
    assert all(set(r) == {"id", "exact_name", "created_at", "cards"} for r in results)
    # Audited with the count, never the query.
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.search")).one()
    assert entry.detail == "count:2"
    # A wrong birth date finds nobody.
    none = client.get(
        "/api/v1/residents",
        query_string={"name": "zoe ngoc lam-dubois", "birth_date": "1985-11-03"},
        headers=auth(tokens["clerk"]),
    )
    assert none.get_json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"name": ""}, "display_name"), ({"name": "Zoe", "birth_date": "02/11/1985"}, "birth_date")],
)
def test_search_refuses_bad_queries(client, city, tokens, query, field) -> None:
    response = client.get("/api/v1/residents", query_string=query, headers=auth(tokens["clerk"]))
    body = assert_problem(response, 422)
    assert field in body["errors"]


def test_search_needs_a_token(client, city) -> None:
    assert_problem(client.get("/api/v1/residents?name=Zoe"), 401)


def test_openapi_describes_the_search_and_the_409(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    residents = spec["paths"]["/residents"]
    assert {p["name"] for p in residents["get"]["parameters"]} == {"name", "birth_date"}
    assert "429" in residents["get"]["responses"]
    assert "409" in residents["post"]["responses"]
    assert "confirm_duplicate" in spec["components"]["schemas"]["Enrolment"]["properties"]
