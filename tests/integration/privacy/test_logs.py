"""Issue 6 item 8, through the staff's own pages (the API path is covered by
tests/integration/cardservice/test_privacy.py): production settings, every logger at DEBUG
(SQLAlchemy echoing statements and parameters), then enrol with a photo, search by name and
birth date, issue, print, suspend, reinstate, revoke, correct the record, erase, verify the card
with cardformat, and the operator commands (purge dry run, audit export). No log record may
hold the name, the birth date in any usual spelling, the address, or the card token (which
carries the name)."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import cardformat

from .helpers import ADDRESS, BIRTH, NAME, csrf_token, production_app

NEEDLES = (
    "Zofia",
    "Wąsowska",
    "Wasowska",
    "Ødegård",
    "Odegard",
    "W%C4%85sowska",  # a name in a logged URL or form body
    BIRTH,
    "29/11/1983",
    "11/29/1983",
    "29.11.1983",
    "1983, 11, 29",  # repr(date(1983, 11, 29))
    "Kléber",
    "Montagné",
)
PASSWORD = "correct horse battery staple 42"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), (180, 140, 120)).save(out, format="JPEG")
    return out.getvalue()


def _post(client: Any, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    page = client.get(url) if kwargs.pop("fetch", False) else None
    token = csrf_token(page.get_data(as_text=True)) if page is not None else client.csrf
    prefix = kwargs.pop("prefix", "")
    response = client.post(url, data={**data, f"{prefix}csrf_token": token}, **kwargs)
    assert response.status_code in (200, 302), (
        url,
        response.status_code,
        re.findall(r"class=\"[^\"]*error[^\"]*\"[^>]*>([^<]+)", response.get_data(as_text=True)),
    )
    return response


def test_counter_flow_logs_no_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flask_migrate import upgrade

    from cardservice.extensions import db
    from cardservice.services import Actor
    from cardservice.services import deps as get_deps
    from cardservice.services.keys import init_city, root_fingerprint
    from cardservice.services.staff import create_user

    system = Actor.system("tests")
    with production_app(tmp_path, monkeypatch) as app:
        with app.app_context():
            upgrade()
            now = datetime.now(UTC)
            init_city(
                db.session, get_deps(app), code="FR SXB", names={"fr": "X"}, now=now, actor=system
            )
            create_user(
                db.session, username="sup", password=PASSWORD, role="admin", now=now, actor=system
            )
            fingerprint = root_fingerprint(db.session)
            db.session.remove()
        # After upgrade(): Alembic's logging configuration resets levels.
        caplog.set_level(logging.DEBUG)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
        # Production cookies are Secure: the test client must speak "HTTPS" to keep them.
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        # Every step of a first sign-in: new password, authenticator app set-up.
        from tests.integration.counter.support import sign_in_every_step

        sign_in_every_step(client, "sup", PASSWORD)
        client.csrf = csrf_token(client.get("/residents/new").get_data(as_text=True))

        enrolled = _post(
            client,
            "/residents/new",
            {
                "display_name": NAME,
                "birth_date": BIRTH,
                "gender_marker": "F",
                "address": ADDRESS,
                "preferred_language": "fr",
                "documents": ["passport", "utility_bill"],
                "photo": (io.BytesIO(_jpeg()), "photo.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )
        assert enrolled.status_code == 302
        resident_url = urlpath(enrolled.headers["Location"])
        rid = resident_url.rstrip("/").rsplit("/", 1)[-1]
        found = _post(client, "/", {"display_name": NAME, "birth_date": BIRTH})
        assert rid in found.get_data(as_text=True)
        assert NAME in client.get(resident_url).get_data(as_text=True)
        _post(client, f"/residents/{rid}/cards", {})
        page = client.get(resident_url).get_data(as_text=True)
        number = re.search(r"/cards/([0-9A-Z]{4}-[0-9A-Z]{3})/", page).group(1)
        pdf = client.get(f"/cards/{number}/card.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        _post(
            client,
            f"/cards/{number}/suspend",
            {f"suspend-{number}-reason": "investigation"},
            prefix=f"suspend-{number}-",
        )
        _post(client, f"/cards/{number}/reinstate", {})
        with app.app_context():
            from cardservice.services.cards import print_card

            # A reprint as the batch printer does it, to get the token the PDF carries.
            qr = print_card(
                db.session, get_deps(app), number, now=datetime.now(UTC), actor=system
            ).qr_text
            db.session.remove()
        meta = cardformat.verify_metadata(
            client.get("/.well-known/citycard/issuer").data,
            pinned_fingerprint=fingerprint,
            now=datetime.now(UTC),
        )
        trusted = {k.kid: k for k in meta.trusted_keys()}
        verified = cardformat.verify_card(qr, resolve_key=trusted.get, now=datetime.now(UTC))
        assert verified.card.holder_name == NAME
        _post(
            client,
            f"/cards/{number}/revoke",
            {f"revoke-{number}-reason": "lost"},
            prefix=f"revoke-{number}-",
        )
        _post(
            client,
            f"/residents/{rid}/edit",
            {
                "display_name": NAME + " Nowak",
                "birth_date": BIRTH,
                "address": ADDRESS,
                "gender_marker": "X",
                "preferred_language": "es",
                "documents": ["passport", "utility_bill"],
            },
        )
        _post(client, f"/residents/{rid}/erase", {"confirm": "y"})
        runner = app.test_cli_runner()
        with app.app_context():
            assert runner.invoke(args=["purge", "--dry-run"]).exit_code == 0
            out = tmp_path / "audit.jsonl"
            assert runner.invoke(args=["audit", "export", "--out", str(out)]).exit_code == 0
            assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)  # it did log
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    # The scan does see statement parameters: the card number (not personal) is there.
    assert number in logged
    for needle in NEEDLES:
        assert needle not in logged, needle
    assert qr not in logged and qr[4:40] not in logged
    # The audit export: codes and ids, no personal data either.
    exported = out.read_text(encoding="utf-8")
    assert "resident.erase" in exported
    for needle in NEEDLES:
        assert needle not in exported, needle


def urlpath(location: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(location).path
