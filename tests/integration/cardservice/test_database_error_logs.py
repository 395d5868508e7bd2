"""A database error never writes a statement's parameters into a log (docs/privacy.md,
rule 7): every engine, the resident database's and the key store's, hides them."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cardservice.extensions import db
from cardservice.models import KEYSTORE_BIND

# What a parameter could be: a name, a birth date, a card number.
NEEDLE = "Zofia-Wasowska-1983-11-29"


def test_every_engine_hides_parameters(app: Flask) -> None:
    with app.app_context():
        assert set(db.engines) == {None, KEYSTORE_BIND}
        for bind, engine in db.engines.items():
            assert engine.hide_parameters, bind
            with pytest.raises(DBAPIError) as failure:
                db.session.execute(
                    text("SELECT needle FROM no_such_table WHERE needle = :needle"),
                    {"needle": NEEDLE},
                    bind_arguments={"bind": engine},
                )
            db.session.rollback()
            assert "no_such_table" in str(failure.value)
            assert NEEDLE not in str(failure.value)


def test_a_database_error_in_a_request_logs_no_parameter(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import cardservice.publish as publish

    # A programming error, not a database fault (those answer 503 and log one line without the
    # statement: cardservice/dbfaults.py): the 500 path logs the traceback and the statement.
    def failing_service(session: Any, *_args: Any, **_kwargs: Any) -> Any:
        session.execute(text("CREATE TEMPORARY TABLE needles (needle TEXT UNIQUE)"))
        for _ in range(2):
            session.execute(text("INSERT INTO needles VALUES (:needle)"), {"needle": NEEDLE})

    monkeypatch.setattr(publish, "status_list_token", failing_service)
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().get("/.well-known/citycard/status/1")
    assert response.status_code == 500
    assert NEEDLE not in response.get_data(as_text=True)
    # The error was logged, with its traceback and statement, but not the value.
    assert "INSERT INTO needles" in caplog.text
    assert "Traceback" in caplog.text
    assert NEEDLE not in caplog.text
    with app.app_context():
        db.session.rollback()
