"""A database connection dropped in the middle of a request (PostgreSQL: pg_terminate_backend
of the request's own backend; SQLite: its connection closed) answers 503 problem+json with
Retry-After, or, for a read that wrote nothing yet, succeeds after one transparent retry. Never
a 500, never a half-written record, and nothing personal in the log (cardservice.dbfaults)."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND, AuditEntry, Card, Resident, ResidentKey
from cardservice.models.city import StatusListRecord
from tests.integration.db_faults import (
    drop_connection,
    drop_connection_at_rollback,
    reads,
    starts,
)

from .conftest import auth
from .test_api import assert_problem, enrol, enrol_json

NAME = "Oksana Kovalenko"  # enrol_json's resident


def _count(session: Any, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _assert_clean_log(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    text = " ".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "answered 503" in text or "reading again" in text  # the fault was logged
    for secret in (NAME, "1985-11-02", *secrets):
        assert secret not in text
    assert not re.search(r"\b[0-9a-f]{32}\b", text), "a resident id was logged"
    assert "parameters" not in text.lower()


def _assert_retry_later(response: Any) -> None:
    body = assert_problem(response, 503, "database_unavailable")
    assert body["detail"]
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("bind", "statement"),
    [
        # After the key store's write, before the record: the key is left over.
        (None, "INSERT INTO resident "),
        (None, "INSERT INTO audit_entry"),
        # The key store's own write.
        (KEYSTORE_BIND, "INSERT INTO resident_key"),
    ],
)
def test_enrolment_losing_its_connection_writes_no_record(
    app: Flask,
    client: Any,
    session: Any,
    city: Any,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    bind: str | None,
    statement: str,
) -> None:
    audit_before = _count(session, AuditEntry)
    session.remove()
    caplog.set_level(logging.INFO)
    with drop_connection(db.engines[bind], starts(statement)) as killed:
        response = client.post(
            "/api/v1/residents", json=enrol_json(), headers=auth(tokens["clerk"])
        )
    assert killed
    _assert_retry_later(response)
    assert _count(session, Resident) == 0
    assert _count(session, AuditEntry) == audit_before
    # The enrolment deletes its key when the record failed; a key it could not delete would be
    # an orphan for `cardservice keys sweep`, never a key with half a record.
    assert _count(session, ResidentKey) == 0
    _assert_clean_log(caplog)
    # The database is back: the same request succeeds.
    assert enrol(client, tokens["clerk"])


def test_revocation_losing_its_connection_changes_nothing(
    app: Flask,
    client: Any,
    session: Any,
    city: Any,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    resident = enrol(client, tokens["clerk"])
    number = client.post(f"/api/v1/residents/{resident}/cards", headers=auth(tokens["clerk"]))
    number = number.get_json()["number"]
    audit_before = _count(session, AuditEntry)
    lists_before = [bytes(r.lst) for r in session.scalars(select(StatusListRecord))]
    session.remove()
    caplog.set_level(logging.INFO)
    revoke = f"/api/v1/cards/{number}/revoke"
    with drop_connection(db.engines[None], starts("UPDATE status_list")) as killed:
        response = client.post(revoke, json={"reason": "lost"}, headers=auth(tokens["supervisor"]))
    assert killed
    _assert_retry_later(response)
    session.expire_all()
    assert session.scalar(select(Card.status).where(Card.number == number)) == "valid"
    assert [bytes(r.lst) for r in session.scalars(select(StatusListRecord))] == lists_before
    assert _count(session, AuditEntry) == audit_before
    _assert_clean_log(caplog, number)
    session.remove()
    again = client.post(revoke, json={"reason": "lost"}, headers=auth(tokens["supervisor"]))
    assert again.status_code == 200, again.get_data(as_text=True)


def _status_list_path(session: Any) -> str:
    list_id = session.scalar(select(StatusListRecord.id).limit(1))
    assert list_id is not None
    return f"/.well-known/citycard/status/{list_id}"


@pytest.mark.parametrize(
    ("document", "table", "media_type"),
    [
        ("issuer", "city", "application/cose"),
        ("status", "status_list", "application/statuslist+cwt"),
    ],
)
def test_public_document_read_is_retried_once(
    app: Flask,
    client: Any,
    session: Any,
    city: Any,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    document: str,
    table: str,
    media_type: str,
) -> None:
    enrol(client, tokens["clerk"])  # a status list exists once a city is set up
    path = "/.well-known/citycard/issuer" if document == "issuer" else _status_list_path(session)
    assert client.get(path).status_code == 200  # signed and stored: the next GET only reads
    session.remove()
    caplog.set_level(logging.INFO)
    with drop_connection(db.engines[None], reads(table)) as killed:
        response = client.get(path)
    assert killed
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == media_type and response.data
    _assert_clean_log(caplog)


@pytest.mark.parametrize("document", ["issuer", "status"])
def test_public_document_that_keeps_failing_is_a_503_problem(
    app: Flask, client: Any, session: Any, city: Any, tokens: dict[str, str], document: str
) -> None:
    path = "/.well-known/citycard/issuer" if document == "issuer" else _status_list_path(session)
    table = "city" if document == "issuer" else "status_list"
    session.remove()
    with drop_connection(db.engines[None], reads(table), times=2) as killed:
        response = client.get(path)
    assert len(killed) == 2  # the first attempt and its one retry
    _assert_retry_later(response)


def test_record_read_that_keeps_failing_is_a_503_problem(
    app: Flask,
    client: Any,
    session: Any,
    city: Any,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    resident = enrol(client, tokens["clerk"])
    session.remove()
    caplog.set_level(logging.INFO)
    with drop_connection(db.engines[None], reads("resident"), times=2) as killed:
        response = client.get(f"/api/v1/residents/{resident}", headers=auth(tokens["clerk"]))
    assert len(killed) == 2
    _assert_retry_later(response)
    assert NAME not in response.get_data(as_text=True)
    _assert_clean_log(caplog, resident)


def test_a_read_that_has_written_is_not_run_twice(
    app: Flask, client: Any, session: Any, city: Any, tokens: dict[str, str]
) -> None:
    """The first GET of a status list signs and stores its token: a fault at that write
    answers 503 instead of running the request again (it is no longer a plain read)."""
    enrol(client, tokens["clerk"])
    path = _status_list_path(session)
    session.remove()
    with drop_connection(db.engines[None], starts("UPDATE status_list")) as killed:
        response = client.get(path)
    assert len(killed) == 1
    _assert_retry_later(response)
    session.expire_all()
    assert session.scalar(select(StatusListRecord.token).limit(1)) is None
    assert client.get(path).status_code == 200


def test_a_connection_lost_when_the_request_ends_costs_nothing(
    app: Flask, client: Any, session: Any, city: Any
) -> None:
    """The request has its answer, then the connection dies before the request's session is
    closed: closing it must neither fail the request nor leave its session to the next one.
    The request runs in a thread of its own, so that it has an app context of its own, torn
    down at its end as under gunicorn (the test's app context spans the whole test)."""
    path = "/.well-known/citycard/issuer"
    assert client.get(path).status_code == 200  # signed and stored: the next GET only reads
    session.remove()
    outcome: list[Any] = []

    def request() -> None:
        try:
            outcome.append(client.get(path))
        except Exception as exc:  # what the test must see if the request blew up
            outcome.append(exc)

    with drop_connection_at_rollback(db.engines[None]) as killed:
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()
    assert killed
    assert not isinstance(outcome[0], Exception), repr(outcome[0])
    assert outcome[0].status_code == 200 and outcome[0].mimetype == "application/cose"
    for _ in range(2):  # the next requests of this thread and of another find a clean session
        thread = threading.Thread(target=request)
        thread.start()
        thread.join()
    assert [getattr(r, "status_code", r) for r in outcome[1:]] == [200, 200]


def test_health_check_survives_a_connection_lost_under_its_rollback(
    app: Flask, client: Any, session: Any
) -> None:
    """/healthz is read by load balancers: plain JSON, never an HTML page or a 500, even when
    the connection dies under the rollback that ends its check."""
    session.remove()
    with drop_connection_at_rollback(db.engines[None]) as killed:
        response = client.get("/healthz")
    assert killed
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    no_key = {"state": "none", "not_after": None, "days_left": None, "warning_days": 30}
    healthy = {
        "status": "ok",
        "status_lists": {"ok": True, "mismatched": []},
        "signing_key": no_key,
    }
    assert (response.status_code, response.get_json()) in (
        (200, healthy),
        (503, {"status": "unavailable"}),
    )
    assert client.get("/healthz").get_json() == healthy
