"""The JSON API's reads of a resident's record are audited like the counter's: GET
/residents/<id> writes one "resident.view" entry naming the token and the random resident id; a
card PDF is audited once, as the print it is. (The API has no search endpoint.)"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from cardservice.models import ApiToken, AuditEntry
from cardservice.services import audit as audit_service

from .conftest import auth
from .test_api import assert_problem, enrol

NAME = "Oksana Kovalenko"  # test_api.enrol_json's resident


def _last_id(session: Any) -> int:
    return session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0


def _since(session: Any, last_id: int) -> list[tuple[Any, ...]]:
    session.expire_all()
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id)
    )
    return [(e.actor, e.staff_id, e.action, e.card_number, e.subject, e.detail) for e in rows]


def _token_id(session: Any, role: str) -> int:
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == f"{role}-token"))
    assert token_id is not None
    return int(token_id)


def test_get_resident_writes_one_view_entry(client, session, city, tokens) -> None:
    resident_id = enrol(client, tokens["clerk"])
    before = _last_id(session)
    response = client.get(f"/api/v1/residents/{resident_id}", headers=auth(tokens["supervisor"]))
    assert response.status_code == 200 and response.get_json()["display_name"] == NAME
    token_id = _token_id(session, "supervisor")
    assert _since(session, before) == [
        (f"token:{token_id}", None, "resident.view", None, f"resident:{resident_id}", None)
    ]
    # An unknown or refused read shows nothing and is not an entry.
    assert (
        client.get("/api/v1/residents/" + "0" * 32, headers=auth(tokens["clerk"])).status_code
        == 404
    )
    assert client.get(f"/api/v1/residents/{resident_id}").status_code == 401
    assert len(_since(session, before)) == 1


def test_card_pdf_is_audited_once_as_a_print(client, session, city, tokens) -> None:
    resident_id = enrol(client, tokens["clerk"])
    issued = client.post(f"/api/v1/residents/{resident_id}/cards", headers=auth(tokens["clerk"]))
    number = issued.get_json()["number"]
    before = _last_id(session)
    response = client.get(f"/api/v1/cards/{number}.pdf", headers=auth(tokens["clerk"]))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    token_id = _token_id(session, "clerk")
    assert _since(session, before) == [
        (f"token:{token_id}", None, "card.print", number, None, None)
    ]


def test_reads_keep_the_chain_intact(client, session, runner, city, tokens) -> None:
    resident_id = enrol(client, tokens["clerk"])
    for _ in range(3):
        client.get(f"/api/v1/residents/{resident_id}", headers=auth(tokens["clerk"]))
    assert (
        session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1))
        == "resident.view"
    )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.strip() == "Audit log intact."


def test_a_read_that_cannot_be_audited_is_refused(
    client, session, city, tokens, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    resident_id = enrol(client, tokens["clerk"])
    before = _last_id(session)

    def broken_record(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO audit_entry", {}, Exception("database is locked"))

    monkeypatch.setattr(audit_service, "record", broken_record)
    caplog.set_level(logging.INFO)
    response = client.get(
        f"/api/v1/residents/{resident_id}",
        headers={**auth(tokens["clerk"]), "Accept-Language": "en"},
    )
    body = assert_problem(response, 503, "audit_unavailable")
    assert "audit log could not record the reading" in body["detail"]
    text = response.get_data(as_text=True)
    assert "Oksana" not in text and "1985" not in text and "photo" not in text
    monkeypatch.undo()
    assert _since(session, before) == []
    logged = " ".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "could not be written to the audit log" in logged and resident_id not in logged
