"""Hostile input to every counter form: a form error in the staff language, never a 500,
never a half-written record."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cardservice.extensions import db
from cardservice.models import AuditEntry, Card, Resident, StaffUser

from .support import enrol, enrolment_data, login, post, resident_id_from

LONG_NAME = "A" * 10_000
CONTROL = "Amina\x00\x1b[31mHaddad"
BIDI_OVERRIDE = "Amina \u202eddadaH"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQL = "Robert'); DROP TABLE resident;--"
# Passes the password rules, so the field under test is the one refused.
STRONG = "a long enough password"


# Showing a record writes a "resident.view" entry: a refused form that shows the resident's
# page again still changed nothing, so these counts leave the reads out.
READ_ACTIONS = ("resident.view", "resident.search")


def _counts(app: Flask) -> tuple[int, int, int]:
    """Residents, cards and audit entries of actions that change something."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Resident)) or 0,
            db.session.scalar(select(func.count()).select_from(Card)) or 0,
            db.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action.not_in(READ_ACTIONS))
            )
            or 0,
        )


def _last_action(app: Flask) -> tuple[str, str | None]:
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        return entry.action, entry.subject


def _decompression_bomb_png(side: int = 60_000) -> bytes:
    """A valid PNG header announcing side x side grey pixels (3.6 gigapixels) with a tiny,
    truncated body: it inflates to gigabytes only if a decoder trusts the header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _fake_jpeg_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _photo(data: bytes, name: str = "photo.jpg", mimetype: str = "image/jpeg") -> Any:
    return (io.BytesIO(data), name, mimetype)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"display_name": LONG_NAME}, "display_name", "too long to print"),
        # Word ligatures (U+FDFD is 7.9 em wide) are not name characters for the card format.
        ({"display_name": "\ufdfd" * 33}, "display_name", "not used in names"),
        ({"display_name": "Amina\u00adDiallo"}, "display_name", "invisible"),  # soft hyphen
        ({"display_name": "Amina\u2060Diallo"}, "display_name", "invisible"),  # word joiner
        ({"display_name": "Diax\u0300\u0301\u0302\u0303\u0304"}, "display_name", "accents"),
        ({"display_name": "é" * 51}, "display_name", "too long to print"),  # 102 bytes
        ({"display_name": ""}, "display_name", "Enter the name"),
        ({"display_name": CONTROL}, "display_name", "invisible"),
        ({"display_name": BIDI_OVERRIDE}, "display_name", "invisible"),
        ({"address": "x" * 10_000}, "address", "too long"),
        ({"address": "Rue \u202e1"}, "address", "invisible"),
        ({"birth_date": "1990-13-45"}, "birth_date", "year, month and day"),
        ({"birth_date": "'; DROP TABLE resident;--"}, "birth_date", "year, month and day"),
        ({"birth_date": "2999-01-01"}, "birth_date", "not plausible"),
        ({"gender_marker": "Q"}, "gender_marker", "listed options"),
        ({"preferred_language": "xx"}, "preferred_language", "listed languages"),
        ({"documents": ["passport", "nationality"]}, "documents", "listed document categories"),
        ({"documents": []}, "documents", "Not enough points for Identity (0 of 3)"),
        ({"photo": None}, "photo", "Add a photo"),
        ({"photo": _photo(_fake_jpeg_pdf())}, "photo", "JPEG or PNG"),
        ({"photo": _photo(_fake_jpeg_pdf(), "scan.pdf", "application/pdf")}, "photo", "JPEG"),
        ({"photo": _photo(b"\xff\xd8\xff" + bytes(6 * 2**20))}, "photo", "too large"),
        ({"photo": _photo(b"", "empty.png", "image/png")}, "photo", "The photo is empty"),
        ({"photo": _photo(b"hello", "photo.exe", "application/x-msdownload")}, "photo", "JPEG"),
        (
            {"photo": _photo(_decompression_bomb_png(), "bomb.png", "image/png")},
            "photo",
            "The photo",
        ),
    ],
)
def test_enrolment_refuses_with_a_field_error(
    app: Flask, clerk: FlaskClient, changes: dict[str, Any], field: str, message: str
) -> None:
    before = _counts(app)
    response = enrol(clerk, **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:500]
    # The error sits next to its field and in the summary, linked to the field.
    assert f'href="#{field}"' in page
    assert f'id="{field}-error"' in page
    assert message in page
    assert _counts(app) == before


def test_thirty_megabyte_photo_is_a_form_error(app: Flask, clerk: FlaskClient) -> None:
    before = _counts(app)
    huge = b"\xff\xd8\xff\xe0" + b"\0" * (30 * 1024 * 1024)
    response = enrol(clerk, photo=_photo(huge))
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert 'id="photo-error"' in page
    assert "Nothing was saved" in page
    assert _counts(app) == before


def test_html_in_a_name_never_reaches_a_page_unescaped(app: Flask, clerk: FlaskClient) -> None:
    for name in (HTML, HTML[:40], '"><b>bold</b>'):
        response = enrol(clerk, display_name=name)
        if response.status_code == 302:  # accepted as plain text: shown escaped
            page = clerk.get(response.headers["Location"]).get_data(as_text=True)
        else:  # refused: the form shows it back, escaped, with the reason
            assert response.status_code == 422
            page = response.get_data(as_text=True)
            assert 'id="display_name-error"' in page
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<b>bold</b>" not in page


@pytest.mark.parametrize("field", ["display_name", "address"])
def test_sql_in_form_fields_is_just_text(app: Flask, clerk: FlaskClient, field: str) -> None:
    response = enrol(clerk, **{field: SQL})
    # The services refuse some punctuation in names and addresses: then it is a field error.
    # Either way the statement never runs: the table is still there and works.
    assert response.status_code in (302, 422)
    accepted = response.status_code == 302
    if not accepted:
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert enrol(clerk).status_code == 302
    assert _counts(app)[0] == (2 if accepted else 1)


def test_the_enrolment_page_shows_errors_in_the_staff_language(app: Flask) -> None:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr;q=0.9"
    assert login(client, "clerk").status_code == 302
    response = enrol(client, display_name="", birth_date="demain")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'lang="fr"' in page
    assert "Saisissez le nom à imprimer sur la carte." in page
    assert "Enter the name" not in page


@pytest.mark.parametrize(
    "data",
    [
        {"username": LONG_NAME, "password": "x"},
        {"username": CONTROL, "password": "x"},
        {"username": SQL, "password": SQL},
        {"username": "clerk", "password": "p" * 100_000},
        {"username": "", "password": ""},
    ],
)
def test_login_refuses_hostile_input(app: Flask, client: FlaskClient, data: dict[str, str]) -> None:
    response = post(client, "/login", data)
    assert response.status_code == 422
    assert "error-summary" in response.get_data(as_text=True)
    # Still signed out.
    assert client.get("/").headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    "number", [LONG_NAME, "'; DROP TABLE card;--", "\u202eABCD-123", "", "<b>ABCD-123</b>"]
)
def test_number_search_refuses_hostile_input(clerk: FlaskClient, number: str) -> None:
    response = clerk.get("/", query_string={"number": number})
    page = response.get_data(as_text=True)
    assert response.status_code in (404, 422)
    assert 'id="number-error"' in page
    assert "<b>ABCD" not in page


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"display_name": LONG_NAME, "birth_date": "1990-01-01"}, "display_name"),
        ({"display_name": CONTROL, "birth_date": "1990-01-01"}, "display_name"),
        ({"display_name": HTML, "birth_date": "not a date"}, "birth_date"),
        ({"display_name": SQL, "birth_date": "1990-01-01'--"}, "birth_date"),
        ({"display_name": "Amina Haddad"}, "birth_date"),
        ({"birth_date": "1990-01-01"}, "display_name"),
    ],
)
def test_person_search_refuses_hostile_input(
    clerk: FlaskClient, data: dict[str, str], field: str
) -> None:
    response = post(clerk, "/", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'href="#{field}"' in page
    assert "<script>alert" not in page


@pytest.mark.parametrize("action", ["revoke", "suspend", "replace"])
@pytest.mark.parametrize("reason", ["", "because", SQL, LONG_NAME, HTML])
def test_card_actions_refuse_a_reason_off_the_list(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient, action: str, reason: str
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    post(clerk, f"/residents/{resident_id}/cards")
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    number = re.search(r'id="card-([0-9A-Z-]{8})"', page)
    assert number
    before = _counts(app)
    response = post(
        supervisor,
        f"/cards/{number.group(1)}/{action}",
        {f"{action}-{number.group(1)}-reason": reason},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "error-summary" in page
    assert "<script>alert" not in page
    assert _counts(app) == before
    # The page shown again is the resident's record: that read is in the log.
    assert _last_action(app) == ("resident.view", f"resident:{resident_id}")


@pytest.mark.parametrize("number", ["ZZZZ-ZZZ", "'; DROP TABLE card;--", "A" * 5000, "%00"])
def test_card_routes_answer_404_for_hostile_numbers(supervisor: FlaskClient, number: str) -> None:
    for path in (f"/cards/{number}/card.pdf",):
        assert supervisor.get(path).status_code == 404
    for action in ("renew", "reinstate"):
        assert post(supervisor, f"/cards/{number}/{action}").status_code == 404
    response = post(supervisor, f"/cards/{number}/revoke", {"reason": "lost"})
    assert response.status_code == 404


@pytest.mark.parametrize("resident_id", ["0" * 32, "x" * 5000, "<script>", "../../etc/passwd"])
def test_resident_routes_answer_404_for_hostile_ids(
    supervisor: FlaskClient, resident_id: str
) -> None:
    assert supervisor.get(f"/residents/{resident_id}").status_code == 404
    assert supervisor.get(f"/residents/{resident_id}/erase").status_code == 404
    assert post(supervisor, f"/residents/{resident_id}/cards").status_code == 404
    assert post(supervisor, f"/residents/{resident_id}/erase", {"confirm": "y"}).status_code == 404


def test_erasure_needs_the_confirmation_box(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    before = _counts(app)
    response = post(supervisor, f"/residents/{resident_id}/erase", {})
    assert response.status_code == 422
    assert 'id="confirm-error"' in response.get_data(as_text=True)
    assert _counts(app) == before
    assert _last_action(app) == ("resident.view", f"resident:{resident_id}")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "a" * 10_000, "password": STRONG, "role": "clerk"}, "username"),
        ({"username": "new user!", "password": STRONG, "role": "clerk"}, "username"),
        ({"username": "newuser", "password": "short", "role": "clerk"}, "password"),
        ({"username": "newuser", "password": STRONG, "role": "root"}, "role"),
        (
            {"username": "newuser", "password": STRONG, "role": "clerk", "language": "xx"},
            "language",
        ),
        ({"username": "clerk", "password": STRONG, "role": "clerk"}, "username"),
        ({"username": SQL, "password": STRONG, "role": "admin"}, "username"),
    ],
)
def test_staff_creation_refuses_hostile_input(
    app: Flask, admin: FlaskClient, data: dict[str, str], field: str
) -> None:
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(StaffUser))
    response = post(admin, "/admin/staff", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:300]
    assert f'href="#{field}"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == before


def test_enrolment_data_helper_is_valid(clerk: FlaskClient) -> None:
    # Guards the tests above: with the helper's defaults the enrolment succeeds.
    assert enrolment_data()["display_name"]
    assert enrol(clerk).status_code == 302


@pytest.mark.parametrize("before", ["99999999999999999999999", "-5", "abc", "0"])
def test_audit_paging_ignores_out_of_range_cursors(supervisor: FlaskClient, before: str) -> None:
    response = supervisor.get("/audit", query_string={"before": before})
    assert response.status_code == 200


def test_staff_routes_answer_404_for_absurd_ids(admin: FlaskClient) -> None:
    for user_id in ("99999999999999999999999", "2147483647"):
        response = post(admin, f"/admin/staff/{user_id}/active", {"active": "0"})
        assert response.status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"display_name": LONG_NAME}, "display_name"),
        ({"display_name": BIDI_OVERRIDE}, "display_name"),
        ({"address": CONTROL}, "address"),
        ({"photo": _photo(_fake_jpeg_pdf())}, "photo"),
        ({"photo": _photo(_decompression_bomb_png(), "bomb.png", "image/png")}, "photo"),
    ],
)
def test_corrections_refuse_hostile_input(
    app: Flask, clerk: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    with app.app_context():
        before = db.session.get(Resident, resident_id).ciphertext
    response = post(clerk, f"/residents/{resident_id}/edit", enrolment_data(**changes))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    with app.app_context():
        assert db.session.get(Resident, resident_id).ciphertext == before


@pytest.mark.parametrize(
    "name",
    [
        # 74 characters: over the counter's former 60-character limit, and the card prints it.
        "Maria da Conceição Gonçalves Ferreira de Albuquerque e Vasconcelos Sá Lima",
        "山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎山",  # 99 bytes
    ],
)
def test_a_long_name_the_card_format_and_the_card_take_is_enrolled(
    app: Flask, clerk: FlaskClient, name: str
) -> None:
    """One limit: the card format's (100 UTF-8 bytes), then only what the card cannot print."""
    response = enrol(clerk, display_name=name)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    resident_id_from(response)


@pytest.mark.parametrize(
    "name",
    [
        "m" * 100,  # 100 bytes of the widest letter: four lines on the card
        "山" * 33,
        "مهرداد نیک\u200cن\u0627م",  # Persian: the non-joiner keeps "نیک" apart from "نام"
        "क्\u200dष्मा राणा",  # Devanagari: the joiner asks for a half form
    ],
)
def test_every_name_the_card_format_accepts_is_enrolled(
    app: Flask, clerk: FlaskClient, name: str
) -> None:
    response = enrol(clerk, display_name=name)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    # The record keeps the name as typed, joiners included (it is encrypted: read it back).
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert name in page
