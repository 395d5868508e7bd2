"""The counter, when a record's master key is missing: a clear translated page, not a 500."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cardservice.extensions import db
from cardservice.models import ResidentKey

from .support import enrol, resident_id_from

GONE_KEY_ID = "0f1e2d3c4b5a6978"


def _orphan(app: Flask, resident_id: str) -> None:
    with app.app_context():
        db.session.get(ResidentKey, resident_id).master_key_id = GONE_KEY_ID
        db.session.commit()
        db.session.remove()


def test_the_resident_page_says_the_record_cannot_be_opened(
    app: Flask, clerk: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    _orphan(app, resident_id)
    with caplog.at_level(logging.INFO, logger="cardservice"):
        response = clerk.get(f"/residents/{resident_id}")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "This record cannot be opened right now" in page
    assert "Tell the administrator" in page
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert GONE_KEY_ID in logged and resident_id not in logged


def test_the_page_is_translated(app: Flask, clerk: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk))
    _orphan(app, resident_id)
    page = clerk.get(f"/residents/{resident_id}/edit", headers={"Accept-Language": "fr"}).get_data(
        as_text=True
    )
    assert "Ce dossier ne peut pas être ouvert pour le moment" in page
    assert "Prévenez l'administrateur" in page or "Prévenez l&#39;administrateur" in page
