"""Bad input to the API: any body, size or content type ends in a result code or a 4xx."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.verification import RESULTS

from .helpers import FakeIssuer, verify

PROBLEM = "application/problem+json"
ANSWER_KEYS = {"result", "valid", "issuer", "card", "holder", "status_checked_at", "message"}


def _is_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"] and body["code"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_wrong_content_type_is_415_before_parsing(client: Any) -> None:
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/jsonx",
    ):
        response = client.post("/api/v1/verify", data='{"qr": "MC1:"}', content_type=content_type)
        _is_problem(response, 415)


def test_json_with_charset_is_accepted(client: Any) -> None:
    response = client.post(
        "/api/v1/verify", data='{"qr": "x"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200
    assert response.get_json()["result"] == "malformed"


def test_oversized_body_is_413_by_declared_length(client: Any, app: Any) -> None:
    limit = app.config["MAX_VERIFY_BYTES"]
    body = json.dumps({"qr": "A" * limit})
    _is_problem(client.post("/api/v1/verify", data=body, content_type="application/json"), 413)


def test_oversized_chunked_body_is_413(client: Any, app: Any) -> None:
    """No Content-Length (chunked upload): the limit applies while reading."""
    limit = app.config["MAX_VERIFY_BYTES"]
    payload = json.dumps({"qr": "A" * (limit * 2)}).encode()
    response = client.post(
        "/api/v1/verify",
        input_stream=io.BytesIO(payload),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    _is_problem(response, 413)
    small = json.dumps({"qr": "x"}).encode()
    response = client.post(
        "/api/v1/verify",
        input_stream=io.BytesIO(small),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200
    assert response.get_json()["result"] == "malformed"


class _Trickle(io.BytesIO):
    """A request body that arrives a few bytes per read, as from a slow network."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(7 if size is None or size < 0 else min(size, 7))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _json_body_of_length(length: int) -> bytes:
    body = json.dumps({"qr": ""}).encode()
    return json.dumps({"qr": "A" * (length - len(body))}).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_of_exactly_the_limit_is_read_whole_and_one_more_byte_is_413(
    client: Any, app: Any, chunked: bool
) -> None:
    limit = app.config["MAX_VERIFY_BYTES"]

    def post(body: bytes) -> Any:
        if chunked:
            headers = {"Transfer-Encoding": "chunked"}
            environ: dict[str, Any] = {"wsgi.input_terminated": True}
        else:
            headers, environ = {}, {"CONTENT_LENGTH": str(len(body))}
        return client.post(
            "/api/v1/verify",
            input_stream=_Trickle(body),
            content_type="application/json",
            headers=headers,
            environ_overrides=environ,
        )

    exact = _json_body_of_length(limit)
    assert len(exact) == limit
    response = post(exact)
    assert response.status_code == 200  # parsed in full: a verdict, not invalid JSON
    assert response.get_json()["result"] == "malformed"
    _is_problem(post(_json_body_of_length(limit + 1)), 413)


def test_a_body_shorter_than_its_declared_length_is_400(client: Any) -> None:
    """The client went away mid-body: a 400 problem, never a verdict on half a card."""
    body = json.dumps({"qr": "MC1:ABC"}).encode()
    response = client.post(
        "/api/v1/verify",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(len(body) + 10)},
    )
    _is_problem(response, 400)


def test_the_answer_is_compact_utf8_json(client: Any) -> None:
    raw = client.post(
        "/api/v1/verify", json={"qr": "nope"}, headers={"Accept-Language": "ar"}
    ).get_data()
    body = json.loads(raw)
    assert raw == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    assert body["message"].encode() in raw  # Arabic as UTF-8, not \u escapes


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"MC1:"',
        b"{}",
        b'{"qr": 5}',
        b'{"qr": null}',
        b'{"qr": ["MC1:"]}',
        b'{"qr": "MC1:", "extra": 1}',
        b"\xff\xfe\x00",
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_bad_json_shape_is_400(client: Any, body: bytes) -> None:
    response = client.post("/api/v1/verify", data=body, content_type="application/json")
    if len(body) > 8192:
        _is_problem(response, 413)
    else:
        _is_problem(response, 400)


def test_unknown_paths_and_methods_are_problems(client: Any) -> None:
    _is_problem(client.get("/api/v1/verify"), 405)
    assert "POST" in client.get("/api/v1/verify").headers["Allow"]
    _is_problem(client.get("/api/v1/nothing"), 404)


def test_verdicts_are_never_cached(client: Any, city: FakeIssuer, clock: Any) -> None:
    text, _ = city.card(now=clock())
    response = client.post("/api/v1/verify", json={"qr": text})
    assert response.headers["Cache-Control"] == "no-store"


def test_no_cors_unless_configured(client: Any, app_factory: Any) -> None:
    origin = "https://agents.example.org"
    response = client.post("/api/v1/verify", json={"qr": "x"}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    response = client.options("/api/v1/verify", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers

    allowed = app_factory(CORS_ORIGINS=(origin,)).test_client()
    response = allowed.post("/api/v1/verify", json={"qr": "x"}, headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.headers["Vary"]
    preflight = allowed.options(
        "/api/v1/verify",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    other = allowed.post(
        "/api/v1/verify", json={"qr": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers


# --- property-based: nothing ends in a 500 -----------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)

_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(qr=st.text(max_size=600))
def test_any_string_ends_in_a_result_code(client: Any, city: FakeIssuer, qr: str) -> None:
    body = verify(client, qr)
    assert set(body) == ANSWER_KEYS
    assert body["result"] in RESULTS
    assert body["valid"] is (body["result"] == "valid")


@_SETTINGS
@given(suffix=st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400))
def test_any_base45_after_the_prefix_ends_in_a_result_code(
    client: Any, city: FakeIssuer, suffix: str
) -> None:
    body = verify(client, "MC1:" + suffix)
    assert body["result"] in RESULTS
    assert body["result"] != "valid"


@_SETTINGS
@given(value=_json_values)
def test_any_json_is_a_verdict_or_400(client: Any, value: Any) -> None:
    response = client.post(
        "/api/v1/verify", data=json.dumps(value), content_type="application/json"
    )
    if isinstance(value, dict) and set(value) == {"qr"} and isinstance(value["qr"], str):
        assert response.status_code == 200
        assert response.get_json()["result"] in RESULTS
    else:
        _is_problem(response, 400)


@_SETTINGS
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "multipart/form-data", "", "application/problem+json"]
    )
    | st.text(max_size=40),
    path=st.sampled_from(["/api/v1/verify", "/api/v1/decode-image"]),
)
def test_any_bytes_and_content_type_never_500(
    client: Any, body: bytes, content_type: str, path: str
) -> None:
    try:
        response = client.post(path, data=body, headers={"Content-Type": content_type})
    except ValueError:
        return  # the test client itself refuses header values with newlines
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.get_json()["result"] in RESULTS
    else:
        assert 400 <= response.status_code < 500
        assert response.mimetype == PROBLEM


def test_an_unexpected_error_in_verification_is_a_verdict_not_a_500(
    client: Any, monkeypatch: Any, caplog: Any
) -> None:
    import verifier.verification as verification

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret-token-text")

    monkeypatch.setattr(verification, "verify_card", boom)
    with caplog.at_level(logging.DEBUG):
        body = verify(client, "MC1:ANYTHING")
    assert body["result"] == "malformed"
    assert "secret-token-text" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_a_bug_in_a_view_is_a_problem_500_without_details(
    app_factory: Any, monkeypatch: Any, caplog: Any
) -> None:
    import verifier.api as api

    client = app_factory(ENV="development").test_client()

    secret = "MC1:" + "SECRET".lower() * 2  # not spelled out: the logged stack shows source

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("internal detail " + secret)

    monkeypatch.setattr(api, "answer", broken)
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/verify", json={"qr": "x"})
    assert response.status_code == 500
    assert response.mimetype == PROBLEM
    text = response.get_data(as_text=True)
    assert "internal detail" not in text and "Traceback" not in text
    assert response.get_json()["code"] == "internal_error"
    assert "RuntimeError" in caplog.text  # logged, so someone can fix it
    assert secret not in caplog.text  # but not what it was handling
