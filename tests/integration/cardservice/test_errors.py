"""The app-wide error handlers, down to the last-resort page built without any template."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from jinja2 import TemplateNotFound


@pytest.fixture
def bare_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app of its own: routes can only be added before an app's first request, and the
    session app of this folder has served many."""
    for name in list(os.environ):
        if name.startswith("CARDSERVICE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CARDSERVICE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CARDSERVICE_ENV", "testing")
    from cardservice import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}"})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    yield app


def _no_templates(*args: object, **kwargs: object) -> str:
    raise TemplateNotFound("errors/error.html")


def test_the_bare_html_fallback_has_a_real_translated_title(
    bare_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No error template at all (a stripped deployment): the hand-built page is all that is left.
    monkeypatch.setattr("cardservice.errors.render_template", _no_templates)
    client = bare_app.test_client()
    response = client.get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "<title>Something went wrong</title>" in body
    assert "<h1>Something went wrong</h1>" in body
    assert "property object" not in body and "a bug" not in body and "Traceback" not in body

    french = client.get("/boom", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "<h1>Un problème est survenu</h1>" in french
    assert "<p>Erreur interne.</p>" in french


def test_an_unexpected_error_on_the_api_is_problem_json(bare_app: Flask) -> None:
    @bare_app.get("/api/v1/boom")
    def api_boom() -> str:
        raise RuntimeError("a bug")

    response = bare_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "internal_error"
