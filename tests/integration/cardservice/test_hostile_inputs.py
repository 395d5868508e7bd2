"""Hostile input to every API endpoint: each ends in a 4xx problem+json, never a 500, and leaves
no half-written record behind."""

from __future__ import annotations

import base64
import functools
import struct
import zlib
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cardservice.models import AuditEntry, Card, Resident

from .conftest import auth
from .test_api import enrol, enrol_json

HOSTILE_STRINGS = [
    "A" * 10_000,
    "Mallory\u202egnp.exe",  # right-to-left override
    "Eve\u200bAdams",  # zero-width space
    "Null\x00Byte",
    "Bell\x07Ring",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "Robert'); DROP TABLE resident;--",
    "' OR 1=1 --; SELECT * FROM staff_user",
    "{{7*7}}",
    "${jndi:ldap://x}",
]
WRONG_TYPES: list[Any] = [123, 1.5, True, ["a"], {"a": 1}]


def _counts(session: Any) -> tuple[int, int, int]:
    session.rollback()
    return (
        session.scalar(select(func.count()).select_from(Resident)),
        session.scalar(select(func.count()).select_from(Card)),
        session.scalar(select(func.count()).select_from(AuditEntry)),
    )


def _assert_4xx_problem(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == response.status_code and body["code"]
    assert "Traceback" not in response.get_data(as_text=True)


def _post_resident(client: FlaskClient, token: str, **fields: Any) -> Any:
    return client.post("/api/v1/residents", json=enrol_json(**fields), headers=auth(token))


@pytest.mark.parametrize("value", HOSTILE_STRINGS + WRONG_TYPES + [None, "", "   "])
def test_hostile_display_name(client, session, city, tokens, value: Any) -> None:
    before = _counts(session)
    _assert_4xx_problem(_post_resident(client, tokens["clerk"], display_name=value))
    assert _counts(session) == before


@pytest.mark.parametrize("value", HOSTILE_STRINGS + WRONG_TYPES[:-1])
def test_hostile_address(client, session, city, tokens, value: Any) -> None:
    before = _counts(session)
    _assert_4xx_problem(_post_resident(client, tokens["clerk"], address=value))
    assert _counts(session) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *[("birth_date", v) for v in HOSTILE_STRINGS + WRONG_TYPES + ["1990-02-30", "0000-01-01"]],
        *[("gender_marker", v) for v in HOSTILE_STRINGS + WRONG_TYPES + ["female"]],
        *[("preferred_language", v) for v in HOSTILE_STRINGS + WRONG_TYPES],
        *[("documents", v) for v in HOSTILE_STRINGS + WRONG_TYPES[:3]],
        ("documents", [1, 2]),
        ("documents", [["passport"]]),
        ("documents", ["passport"] * 10_000),
        ("documents", HOSTILE_STRINGS),
        *[("photo", v) for v in WRONG_TYPES],
        ("photo", "not base64 at all!"),
        ("photo", "data:image/png;base64,@@@@"),
    ],
)
def test_hostile_fields(client, session, city, tokens, field: str, value: Any) -> None:
    before = _counts(session)
    _assert_4xx_problem(_post_resident(client, tokens["clerk"], **{field: value}))
    assert _counts(session) == before


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.cache
def _bomb_png() -> bytes:
    """A real 30000 x 30000 PNG (900 megapixels) of about 100 kB, written chunk by chunk."""
    width = height = 30000
    row = b"\x00" * (1 + width // 8)  # filter byte + 1-bit pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    idat += compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("photo", "status"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 422),  # PNG signature, garbage after
        (b"\xff\xd8\xff\xdb" + b"\xff" * 64, 422),  # JPEG start, garbage after
        (b"GIF89a\x01\x00\x01\x00", 422),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422),
    ],
)
def test_hostile_photo_files(client, session, city, tokens, photo: bytes, status: int) -> None:
    before = _counts(session)
    response = _post_resident(client, tokens["clerk"], photo=_b64(photo))
    _assert_4xx_problem(response)
    assert response.status_code == status
    assert response.get_json()["code"] == "invalid_photo"
    assert _counts(session) == before


def test_decompression_bomb_png(client, session, city, tokens) -> None:
    bomb = _bomb_png()
    assert len(bomb) < 300_000  # small on the wire, 900 megapixels decoded
    before = _counts(session)
    response = _post_resident(client, tokens["clerk"], photo=_b64(bomb))
    _assert_4xx_problem(response)
    assert response.get_json()["code"] in ("invalid_photo", "photo_too_large")
    assert _counts(session) == before


def test_thirty_megabyte_photo(client, session, city, tokens) -> None:
    before = _counts(session)
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (30 * 1024 * 1024)
    response = _post_resident(client, tokens["clerk"], photo=_b64(big))
    _assert_4xx_problem(response)
    assert response.status_code == 413
    assert _counts(session) == before


def test_six_megabyte_photo_inside_body_limit(client, session, city, tokens) -> None:
    before = _counts(session)
    response = _post_resident(
        client, tokens["clerk"], photo=_b64(b"\xff\xd8\xff\xe0" + b"\x00" * (6 * 1024 * 1024))
    )
    _assert_4xx_problem(response)
    assert response.get_json()["code"] == "photo_too_large"
    assert _counts(session) == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("[1, 2, 3]", "application/json"),
        ('"just a string"', "application/json"),
        ("null", "application/json"),
        ("{not json", "application/json"),
        ("display_name=Eve", "application/x-www-form-urlencoded"),
        ("<resident/>", "application/xml"),
        ("", "application/json"),
    ],
)
def test_hostile_bodies(client, session, city, tokens, data: str, content_type: str) -> None:
    before = _counts(session)
    for url in ("/api/v1/residents",):
        response = client.post(
            url, data=data, headers={**auth(tokens["clerk"]), "Content-Type": content_type}
        )
        _assert_4xx_problem(response)
    assert _counts(session) == before


PATH_VALUES = [
    "A" * 10_000,
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "'%20OR%201=1%20--",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%80%AEabc",
    "%00",
    "0" * 32,
]


@pytest.mark.parametrize("value", PATH_VALUES)
def test_hostile_path_parameters(client, session, city, tokens, value: str) -> None:
    rid = enrol(client, tokens["clerk"])
    client.post(f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"]))
    before = _counts(session)
    supervisor = auth(tokens["supervisor"])
    for method, url, body in (
        ("GET", f"/api/v1/residents/{value}", None),
        ("DELETE", f"/api/v1/residents/{value}", None),
        ("POST", f"/api/v1/residents/{value}/cards", None),
        ("GET", f"/api/v1/cards/{value}", None),
        ("GET", f"/api/v1/cards/{value}.pdf", None),
        ("POST", f"/api/v1/cards/{value}/revoke", {"reason": "lost"}),
    ):
        response = client.open(url, method=method, json=body, headers=supervisor)
        _assert_4xx_problem(response)
    assert _counts(session) == before


@pytest.mark.parametrize("reason", [*HOSTILE_STRINGS, *WRONG_TYPES, None, ""])
def test_hostile_revoke_reason(client, session, city, tokens, reason: Any) -> None:
    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    before = _counts(session)
    response = client.post(
        f"/api/v1/cards/{number}/revoke",
        json={"reason": reason},
        headers=auth(tokens["supervisor"]),
    )
    _assert_4xx_problem(response)
    assert _counts(session) == before
    card = client.get(f"/api/v1/cards/{number}", headers=auth(tokens["clerk"])).get_json()
    assert card["status"] == "valid"


@pytest.mark.parametrize("layout", ["A" * 10_000, "<b>", "' OR 1=1", "../../a4"])
def test_hostile_pdf_layout(client, session, city, tokens, layout: str) -> None:
    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    before = _counts(session)
    response = client.get(
        f"/api/v1/cards/{number}.pdf",
        query_string={"layout": layout},
        headers=auth(tokens["clerk"]),
    )
    _assert_4xx_problem(response)
    assert _counts(session) == before


@pytest.mark.parametrize(
    "header",
    [
        "Bearer " + "A" * 10_000,
        "Bearer cst_" + "\u202e" * 10,
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer ' OR 1=1 --",
    ],
)
def test_hostile_authorization(client, city, header: str) -> None:
    response = client.get("/api/v1/policy", headers={"Authorization": header})
    _assert_4xx_problem(response)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "data",
    [
        "[" * 100_000 + "]" * 100_000,  # nesting deep enough to exhaust the parser's recursion
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"display_name": "\\ud800"}',  # lone surrogate
        '{"display_name": 1e999999}',
        '{"reason": NaN}',
    ],
)
def test_pathological_json(client, session, city, tokens, data: str) -> None:
    rid = enrol(client, tokens["clerk"])
    number = client.post(
        f"/api/v1/residents/{rid}/cards", headers=auth(tokens["clerk"])
    ).get_json()["number"]
    before = _counts(session)
    headers = {**auth(tokens["supervisor"]), "Content-Type": "application/json"}
    for url in ("/api/v1/residents", f"/api/v1/cards/{number}/revoke"):
        _assert_4xx_problem(client.post(url, data=data, headers=headers))
    assert _counts(session) == before


def test_unexpected_error_is_a_bare_problem(app, client, city, tokens, monkeypatch, caplog) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("cardservice.api.cards.card_service.get_card", explode)
    response = client.get("/api/v1/cards/ABCD-123", headers=auth(tokens["clerk"]))
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body and "Traceback" not in body
    assert response.get_json()["code"] == "internal_error"
    assert any("unhandled error" in r.getMessage() for r in caplog.records)
