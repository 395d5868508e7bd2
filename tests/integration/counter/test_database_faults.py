"""The counter's side of a dropped database connection (cardservice.dbfaults): a translated
error page with status 503 and Retry-After, nothing half-written, nothing personal in the log."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cardservice.extensions import db
from cardservice.models import AuditEntry, Resident, ResidentKey
from tests.integration.db_faults import drop_connection, reads, starts

from .support import enrol, enrolment_data, post, resident_id_from

FRENCH = {"Accept-Language": "fr"}


def _count(app: Flask, model: object) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def _assert_error_page(response: object, caplog: pytest.LogCaptureFixture) -> str:
    assert response.status_code == 503  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Service momentanément indisponible" in page  # the heading, in the staff's language
    assert "Traceback" not in page and "OperationalError" not in page
    logged = " ".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "answered 503" in logged
    assert "Amina" not in logged and "1990-04-27" not in logged
    assert not re.search(r"\b[0-9a-f]{32}\b", logged)
    return str(page)


def test_enrolment_at_the_counter_losing_its_connection(
    app: Flask, clerk: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    residents, keys, entries = (_count(app, m) for m in (Resident, ResidentKey, AuditEntry))
    caplog.set_level(logging.INFO)
    with app.app_context():
        engine = db.engines[None]
    with drop_connection(engine, starts("INSERT INTO resident ")) as killed:
        response = post(clerk, "/residents/new", enrolment_data(), headers=FRENCH)
    assert killed
    _assert_error_page(response, caplog)
    assert (_count(app, Resident), _count(app, ResidentKey)) == (residents, keys)
    assert _count(app, AuditEntry) == entries
    assert enrol(clerk).status_code == 302  # the database is back


def test_record_page_that_keeps_failing(
    app: Flask, clerk: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    resident = resident_id_from(enrol(clerk))
    caplog.set_level(logging.INFO)
    with app.app_context():
        engine = db.engines[None]
    with drop_connection(engine, reads("resident"), times=2) as killed:
        response = clerk.get(f"/residents/{resident}", headers=FRENCH)
    assert len(killed) == 2  # the page and its one retry
    page = _assert_error_page(response, caplog)
    assert "Amina" not in page
