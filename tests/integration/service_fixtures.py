"""Fixtures every issuance-app suite shares, on top of the `app` fixture its conftest defines.

Registered for the whole suite by tests/conftest.py; each suite keeps its own `app` (each builds
its database its own way), and a suite with another `client` (the verifier's) overrides these.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def deps(app: Flask) -> Any:
    from cardservice.services import deps as get_deps

    return get_deps(app)


@pytest.fixture
def session(app: Flask) -> Any:
    from cardservice.extensions import db

    return db.session


@pytest.fixture
def actor() -> Any:
    from cardservice.services import Actor

    return Actor.system("tests")
