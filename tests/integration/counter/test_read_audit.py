"""Every page that shows a resident's personal data leaves one audit entry (docs/privacy.md):
the resident page, the correction form, the erasure page and a search; a card PDF is already
audited as a print. The entries name the staff member and the random resident id, never the
person: a search records its number of results, never what was typed."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from cardservice.extensions import db
from cardservice.models import AuditEntry, StaffUser
from cardservice.services import audit as audit_service

from .support import enrol, post, resident_id_from

NAME = "Zainab Okafor"
BIRTH = "1987-06-13"


def _last_id(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0


def _entries_since(
    app: Flask, last_id: int
) -> list[tuple[str, int | None, str, str | None, str | None, str | None]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id)
        )
        return [(e.actor, e.staff_id, e.action, e.card_number, e.subject, e.detail) for e in rows]


def _staff_id(app: Flask, username: str) -> int:
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == username))
        assert user_id is not None
        return int(user_id)


def _view(app: Flask, username: str, resident_id: str) -> tuple[str, int, str, None, str, None]:
    staff_id = _staff_id(app, username)
    return (f"staff:{staff_id}", staff_id, "resident.view", None, f"resident:{resident_id}", None)


def _issue(clerk: FlaskClient, resident_id: str) -> str:
    assert post(clerk, f"/residents/{resident_id}/cards").status_code == 302
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    found = re.search(r'id="card-([0-9A-Z]{4}-[0-9A-Z]{3})"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("clerk", "/residents/{id}"),
        ("clerk", "/residents/{id}/edit"),
        ("supervisor", "/residents/{id}/erase"),
    ],
)
def test_each_page_showing_a_record_writes_one_view_entry(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient, username: str, path: str
) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name=NAME, birth_date=BIRTH))
    client = {"clerk": clerk, "supervisor": supervisor}[username]
    before = _last_id(app)
    response = client.get(path.format(id=resident_id))
    assert response.status_code == 200
    assert NAME in response.get_data(as_text=True)  # the page really shows the record
    assert _entries_since(app, before) == [_view(app, username, resident_id)]


def test_the_page_after_enrolment_is_a_read_too(app: Flask, clerk: FlaskClient) -> None:
    before = _last_id(app)
    response = enrol(clerk, display_name=NAME, birth_date=BIRTH)
    resident_id = resident_id_from(response)
    assert [e[2] for e in _entries_since(app, before)] == ["resident.enrol"]
    before = _last_id(app)
    clerk.get(response.headers["Location"])
    assert _entries_since(app, before) == [_view(app, "clerk", resident_id)]


def test_a_card_pdf_is_audited_once_as_a_print(app: Flask, clerk: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name=NAME, birth_date=BIRTH))
    number = _issue(clerk, resident_id)
    for layout, query, action in (("card", "", "card.print"), ("a4", "?reprint=1", "card.reprint")):
        before = _last_id(app)
        response = clerk.get(f"/cards/{number}/{layout}.pdf{query}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        staff_id = _staff_id(app, "clerk")
        assert _entries_since(app, before) == [
            (f"staff:{staff_id}", staff_id, action, number, None, None)
        ]


def test_a_search_records_its_count_and_never_the_query(app: Flask, clerk: FlaskClient) -> None:
    resident_id_from(enrol(clerk, display_name=NAME, birth_date=BIRTH))
    staff_id = _staff_id(app, "clerk")
    before = _last_id(app)
    found = post(clerk, "/", {"display_name": NAME.lower(), "birth_date": BIRTH})
    assert found.status_code == 200 and NAME in found.get_data(as_text=True)
    missed = post(clerk, "/", {"display_name": "Nobody Known", "birth_date": "1950-01-02"})
    assert missed.status_code == 200
    assert _entries_since(app, before) == [
        (f"staff:{staff_id}", staff_id, "resident.search", None, None, "count:1"),
        (f"staff:{staff_id}", staff_id, "resident.search", None, None, "count:0"),
    ]
    # Not a byte of either query anywhere in the audit table, in any column that can hold text:
    # the time and the chain's digests are left out, since "1987" turns up in a microsecond
    # count or a hex digest by chance.
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT id, actor, staff_id, action, card_number, subject, detail FROM audit_entry"
            )
        ).all()
    dump = repr([tuple(row) for row in rows]).lower()
    for typed in (NAME, "okafor", "zainab", BIRTH, "1987", "Nobody Known", "1950-01-02"):
        assert typed.lower() not in dump


def test_a_refused_search_and_an_unknown_record_write_nothing(
    app: Flask, clerk: FlaskClient
) -> None:
    before = _last_id(app)
    assert post(clerk, "/", {"display_name": "", "birth_date": BIRTH}).status_code == 422
    assert clerk.get("/residents/" + "0" * 32).status_code == 404
    assert _entries_since(app, before) == []


def test_the_audit_page_names_the_reads_and_the_chain_stays_intact(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name=NAME, birth_date=BIRTH))
    clerk.get(f"/residents/{resident_id}")
    post(clerk, "/", {"display_name": NAME, "birth_date": BIRTH})
    english = supervisor.get("/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Resident record viewed" in english
    assert f"Record {resident_id}" in english  # which record was read
    assert "Residents searched by name and birth date" in english and "Count: 1" in english
    assert "resident.view" not in english and "count:1" not in english
    assert "Zainab" not in english and BIRTH not in english
    french = supervisor.get("/audit", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Dossier de l&#39;habitant consulté" in french and "Nombre : 1" in french
    assert f"Dossier {resident_id}" in french
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.output.strip() == "Audit log intact." and result.exit_code == 0


def _broken_record(*args: object, **kwargs: object) -> None:
    raise OperationalError("INSERT INTO audit_entry", {}, Exception("disk I/O error"))


@pytest.mark.parametrize("reader", ["page", "search"])
def test_a_read_that_cannot_be_audited_shows_nothing(
    app: Flask,
    clerk: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    reader: str,
) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name=NAME, birth_date=BIRTH))
    before = _last_id(app)
    monkeypatch.setattr(audit_service, "record", _broken_record)
    caplog.set_level(logging.INFO)
    if reader == "page":
        response = clerk.get(f"/residents/{resident_id}", headers={"Accept-Language": "en"})
    else:
        response = post(
            clerk,
            "/",
            {"display_name": NAME, "birth_date": BIRTH},
            headers={"Accept-Language": "en"},
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "the audit log could not record the reading" in page
    assert "Zainab" not in page and "Okafor" not in page and "1987" not in page
    assert "Traceback" not in page
    monkeypatch.undo()
    assert _entries_since(app, before) == []
    logged = " ".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "could not be written to the audit log" in logged
    assert resident_id not in logged and "Zainab" not in logged
