"""Two anonymous requests that used to end in a 500 with a traceback (issue 11): a status list
id beyond the database's integers, and a sign-in `next` carrying CR/LF. Both are a 4xx or a
safe redirect now, on SQLite and on PostgreSQL (`-m postgres`)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from .support import PASSWORD, csrf_token


@pytest.mark.parametrize(
    "list_id",
    [
        "2147483648",  # one past PostgreSQL's integer
        "99999999999",
        "9223372036854775808",  # one past a 64-bit integer: too large for SQLite too
        "1" + "0" * 40,
    ],
)
def test_out_of_range_status_list_id_is_not_found(
    app: Flask, list_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = app.test_client().get(f"/.well-known/citycard/status/{list_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "Traceback" not in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "target",
    [
        "/\r\nSet-Cookie: stolen=1",
        "/residents\nX-Injected: 1",
        "/\rfoo",
        "/%0d%0a",  # already decoded once by the query string: a literal, harmless path
        "/\x00",
        "/\x7f",
    ],
)
def test_sign_in_next_with_control_characters_redirects_safely(
    app: Flask, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        form = client.get("/login", query_string={"next": target})
        assert form.status_code == 200
        response = client.post(
            "/login",
            data={
                "csrf_token": csrf_token(client),
                "username": "clerk",
                "password": PASSWORD,
                "next": target,
            },
        )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location
    assert "Set-Cookie" not in location and "X-Injected" not in location
    if target == "/%0d%0a":
        assert location == "/%0d%0a"
    else:
        assert location == "/"  # the dashboard, not the target
    assert "stolen" not in str(response.headers)
    assert "Traceback" not in caplog.text
