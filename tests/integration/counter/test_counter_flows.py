"""The counter's pages end to end through the test client: sign in, search, enrol, the card
lifecycle, erasure, the audit log and the admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cardservice.counter.views import audit as audit_views
from cardservice.counter.views import cards as card_views
from cardservice.counter.views import residents as resident_views
from cardservice.extensions import db
from cardservice.models import AuditEntry, Card, Resident, StaffUser

from .support import (
    PASSWORD,
    csrf_token,
    enrol,
    first_sign_in,
    login,
    post,
    resident_id_from,
)


def _issue(client: FlaskClient, resident_id: str) -> str:
    response = post(client, f"/residents/{resident_id}/cards")
    assert response.status_code == 302
    page = client.get(f"/residents/{resident_id}").get_data(as_text=True)
    numbers = re.findall(r'id="card-([0-9A-Z]{4}-[0-9A-Z]{3})"', page)
    assert numbers
    return numbers[0]


def _card(app: Flask, number: str) -> Card:
    with app.app_context():
        card = db.session.scalars(select(Card).where(Card.number == number)).one()
        db.session.expunge(card)
        return card


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --- sign in ----------------------------------------------------------------------------------


def test_login_page_and_wrong_password(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert 'for="username"' in page and 'autocomplete="current-password"' in page
    response = login(client, "clerk", "wrong password!")
    assert response.status_code == 422
    assert "Wrong user name or password." in response.get_data(as_text=True)
    # Unknown user: the very same message.
    response = login(client, "nobody", "wrong password!")
    assert "Wrong user name or password." in response.get_data(as_text=True)


def test_account_locks_after_repeated_failures(app: Flask, client: FlaskClient) -> None:
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        login(client, "clerk", "wrong password!")
    response = login(client, "clerk")  # right password, but locked now
    assert response.status_code == 422
    # The same answer as a wrong password: the form does not say which accounts are locked.
    assert "Wrong user name or password." in response.get_data(as_text=True)
    assert "locked" not in response.get_data(as_text=True)
    assert "user.lock" in _actions(app)


def test_login_redirects_to_a_local_next_page_only(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/audit")
    assert response.headers["Location"].startswith("/login?next=")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "username": "clerk",
            "password": PASSWORD,
            "next": "/residents/new",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == "/residents/new"
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        other = app.test_client()
        token = csrf_token(other)
        response = other.post(
            "/login",
            data={"username": "clerk", "password": PASSWORD, "next": evil, "csrf_token": token},
        )
        assert response.headers["Location"] == "/", evil


def test_session_cookie_flags(app: Flask) -> None:
    client = app.test_client()
    response = login(client, "clerk")
    # The device cookie is set too (test_device_cookies.py): the session's is checked here.
    (cookie,) = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("cardservice_session=")
    ]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_carry_security_headers_and_no_external_assets(clerk: FlaskClient) -> None:
    response = clerk.get("/residents/new")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for asset in ("counter.css", "counter.js"):
        response = clerk.get(f"/counter-static/{asset}")
        assert response.status_code == 200
        response.close()  # static files are streamed from disk


# --- search -----------------------------------------------------------------------------------


def test_search_by_number_and_by_name(clerk: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name="Ana María Souza"))
    number = _issue(clerk, resident_id)
    for typed in (number, number.lower(), number.replace("-", "")):
        response = clerk.get("/", query_string={"number": typed})
        assert response.headers["Location"] == f"/residents/{resident_id}"
    response = post(clerk, "/", {"display_name": "ana maría souza", "birth_date": "1990-04-27"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"/residents/{resident_id}" in page
    assert "spelled differently" in page  # case differs
    # Accents and hyphens do not matter either; the exact spelling is not flagged.
    response = post(clerk, "/", {"display_name": "ANA-MARIA SOUZA", "birth_date": "1990-04-27"})
    assert f"/residents/{resident_id}" in response.get_data(as_text=True)
    response = post(clerk, "/", {"display_name": "Ana María Souza", "birth_date": "1990-04-27"})
    assert "spelled differently" not in response.get_data(as_text=True)
    response = post(clerk, "/", {"display_name": "Someone Else", "birth_date": "1990-04-27"})
    assert "No resident matches this search." in response.get_data(as_text=True)


def test_person_search_keeps_personal_data_out_of_urls(clerk: FlaskClient) -> None:
    page = clerk.get("/").get_data(as_text=True)
    person_form = page[page.index('aria-labelledby="by-person"') - 80 :]
    assert 'method="post"' in person_form[:200]
    # A GET with a name in the query string is not a search.
    response = clerk.get("/", query_string={"display_name": "Amina Haddad"})
    assert "Results" not in response.get_data(as_text=True)


def test_unknown_card_number_is_a_field_error(clerk: FlaskClient) -> None:
    response = clerk.get("/", query_string={"number": "7KQ2-MX4"})
    assert response.status_code == 404
    assert 'id="number-error"' in response.get_data(as_text=True)


# --- enrolment --------------------------------------------------------------------------------


def test_enrolment_page_is_accessible(clerk: FlaskClient) -> None:
    page = clerk.get("/residents/new").get_data(as_text=True)
    # Every input has a label; groups have a legend; the address note is visible.
    for field in ("display_name", "birth_date", "address", "preferred_language", "photo"):
        assert f'for="{field}"' in page
    assert page.count("<legend") >= 2
    assert "People without an address are welcome" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'name="csrf_token"' in page
    # No field for anything the privacy rules forbid.
    for forbidden in ("nationality", "immigration", "residency_status", "document_number"):
        assert f'name="{forbidden}' not in page


def test_enrolment_hands_the_documents_back_and_flags_duplicates(
    app: Flask, clerk: FlaskClient
) -> None:
    first = enrol(clerk)
    assert first.status_code == 302
    page = clerk.get(first.headers["Location"]).get_data(as_text=True)
    assert "Give all the documents back to the person now." in page
    assert "Possible duplicate" not in page

    # Same person typed without accents or capitals: stopped BEFORE anything is written, with
    # the candidate to check and the photo kept for the confirmation.
    second = enrol(clerk, display_name="amina  HADDAD")
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    first_id = resident_id_from(first)
    assert f"/residents/{first_id}" in page
    assert f'name="confirm_duplicate" value="{first_id}"' in page
    kept = re.search(r'name="kept_photo" type="hidden" value="([^"]+)"', page)
    assert kept, "the photo is kept across the refused submission"
    with app.app_context():
        assert len(db.session.scalars(select(Resident.id)).all()) == 1

    # Confirmed, without choosing the photo again: enrolled, and flagged on the record page.
    confirmed = enrol(
        clerk,
        display_name="amina  HADDAD",
        photo=None,
        kept_photo=kept.group(1),
        confirm_duplicate=first_id,
    )
    assert confirmed.status_code == 302
    page = clerk.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "Enrolled although 1 other record" in page
    assert f"/residents/{first_id}" in page
    with app.app_context():
        assert len(db.session.scalars(select(Resident.id)).all()) == 2


def test_a_confirmation_covers_only_the_candidates_seen(app: Flask, clerk: FlaskClient) -> None:
    first = resident_id_from(enrol(clerk))
    second = resident_id_from(enrol(clerk, confirm_duplicate=first))
    # A third enrolment confirmed against the first only: the second is new to the clerk.
    third = enrol(clerk, confirm_duplicate=first)
    assert third.status_code == 409
    page = third.get_data(as_text=True)
    assert f"/residents/{second}" in page
    with app.app_context():
        assert len(db.session.scalars(select(Resident.id)).all()) == 2


def test_enrol_and_issue_opens_the_print_dialog(app: Flask, clerk: FlaskClient) -> None:
    response = enrol(clerk, issue="1")
    assert response.status_code == 302
    location = response.headers["Location"]
    number = re.search(r"print=([0-9A-Z]{4}-[0-9A-Z]{3})", location.replace("%2D", "-"))
    assert number, location
    page = clerk.get(location).get_data(as_text=True)
    # The card's print link opens the dialog at once (counter.js), from the page itself.
    assert f'data-card="{number.group(1)}" data-print-now' in page
    assert "card.issue" in _actions(app)


def test_every_error_in_one_round(app: Flask, clerk: FlaskClient) -> None:
    # No name, a bad birth date AND too few documents: all three reported at once, the short
    # category named, and the photo kept.
    response = enrol(clerk, display_name="", birth_date="1990-13-45", documents=["utility_bill"])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("display_name", "birth_date", "documents"):
        assert f'id="{field}-error"' in page
    assert "Not enough points for Identity (0 of 3)." in page
    assert 'name="kept_photo" type="hidden" value="/9j/' in page  # a JPEG, base64


def test_enrolment_without_address_or_gender_marker(clerk: FlaskClient) -> None:
    response = enrol(clerk, address="", gender_marker="")
    assert response.status_code == 302
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "No address" in page


def test_too_few_document_points_is_refused(app: Flask, clerk: FlaskClient) -> None:
    response = enrol(clerk, documents=["health_insurance_card", "utility_bill"])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="documents-error"' in page
    with app.app_context():
        assert db.session.scalars(select(Resident.id)).all() == []


# --- card lifecycle ---------------------------------------------------------------------------


def test_issue_print_and_reprint(app: Flask, clerk: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    for layout in ("card", "a4"):
        response = clerk.get(f"/cards/{number}/{layout}.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "Reprint the card" in page
    # Printing from the page: the PDF opens inline, framed by the app itself only.
    inline = clerk.get(f"/cards/{number}/card.pdf?reprint=1&inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert inline.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in inline.headers["Content-Security-Policy"]
    assert (
        clerk.get(f"/cards/{number}/card.pdf")
        .headers["Content-Disposition"]
        .startswith("attachment;")
    )
    assert clerk.get(f"/cards/{number}/card.pdf?reprint=1").status_code == 200
    actions = _actions(app)
    assert actions.count("card.print") == 3
    assert actions.count("card.reprint") == 2
    assert "Issue a new card" not in page
    # A second card while the first is valid is refused with a message, not a 500.
    response = post(clerk, f"/residents/{resident_id}/cards")
    assert response.status_code == 302
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "already has a valid card" in page


def test_renewal_too_early_then_in_the_window(
    app: Flask, clerk: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    post(clerk, f"/cards/{number}/renew")
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "can be renewed from" in page

    expires = _card(app, number).expires_at
    later = expires - timedelta(days=10)
    monkeypatch.setattr(card_views, "utcnow", lambda: later)
    response = post(clerk, f"/cards/{number}/renew")
    assert response.status_code == 302
    assert _card(app, number).expires_at > expires
    assert "card.renew" in _actions(app)


def test_supervisor_suspends_reinstates_replaces_and_revokes(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)

    post(supervisor, f"/cards/{number}/suspend", {f"suspend-{number}-reason": "investigation"})
    assert _card(app, number).status == "suspended"
    page = supervisor.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "Under investigation" in page and "Reinstate" in page

    post(supervisor, f"/cards/{number}/reinstate")
    assert _card(app, number).status == "valid"

    response = post(supervisor, f"/cards/{number}/replace", {f"replace-{number}-reason": "lost"})
    assert response.status_code == 302
    assert _card(app, number).status == "revoked"
    page = supervisor.get(f"/residents/{resident_id}").get_data(as_text=True)
    numbers = re.findall(r'id="card-([0-9A-Z]{4}-[0-9A-Z]{3})"', page)
    new_number = next(n for n in numbers if n != number)
    assert _card(app, new_number).status == "valid"

    response = post(
        supervisor, f"/cards/{new_number}/revoke", {f"revoke-{new_number}-reason": "fraud"}
    )
    assert response.status_code == 302
    card = _card(app, new_number)
    assert (card.status, card.status_reason) == ("revoked", "fraud")
    # A revoked card cannot be printed any more; the clerk is told why.
    response = clerk.get(f"/cards/{new_number}/card.pdf")
    assert response.status_code == 302
    page = clerk.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "This card is revoked." in page
    actions = _actions(app)
    for action in ("card.suspend", "card.reinstate", "card.replace", "card.revoke"):
        assert action in actions


def test_revoke_requires_a_reason(app: Flask, clerk: FlaskClient, supervisor: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    response = post(supervisor, f"/cards/{number}/revoke", {})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose the reason" in page
    assert f'href="#revoke-{number}-reason"' in page
    assert '<details class="more" open>' in page
    assert _card(app, number).status == "valid"


def test_erasure_on_request(app: Flask, clerk: FlaskClient, supervisor: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    page = supervisor.get(f"/residents/{resident_id}/erase").get_data(as_text=True)
    assert "This cannot be undone" in page
    response = post(supervisor, f"/residents/{resident_id}/erase", {"confirm": "y"})
    assert response.status_code == 302
    page = supervisor.get("/").get_data(as_text=True)
    assert "The record is deleted and 1 card was revoked." in page
    assert supervisor.get(f"/residents/{resident_id}").status_code == 404
    card = _card(app, number)
    assert card.status == "revoked" and card.resident_id is None
    # Searching the number now says the record was deleted, and shows no personal data.
    response = supervisor.get("/", query_string={"number": number}, follow_redirects=True)
    assert "deleted on request" in response.get_data(as_text=True)


# --- audit and administration -----------------------------------------------------------------


def test_audit_log_lists_actions_without_personal_data(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name="Zainab Okafor"))
    number = _issue(clerk, resident_id)
    page = supervisor.get("/audit").get_data(as_text=True)
    assert "Resident enrolled" in page and "Card issued" in page
    assert "clerk" in page
    assert "Zainab" not in page and "1990" not in page
    filtered = supervisor.get("/audit", query_string={"card": number.lower()}).get_data(
        as_text=True
    )
    rows = filtered.split("<tbody>", 1)[1]  # the entries, not the filter's choices
    assert "Card issued" in rows and "Resident enrolled" not in rows
    response = supervisor.get("/audit", query_string={"card": "not-a-card"})
    assert response.status_code == 422


def test_audit_log_pages(app: Flask, supervisor: FlaskClient) -> None:
    for _ in range(3):
        login(app.test_client(), "clerk")
    first = supervisor.get("/audit").get_data(as_text=True)
    before = re.search(r"before=(\d+)", first)
    total = len(_actions(app))
    if total > audit_views.AUDIT_PAGE_SIZE:
        assert before
    else:
        assert before is None
        assert first.count("<tr>") == total + 1  # one header row


def test_admin_creates_and_deactivates_staff(app: Flask, admin: FlaskClient) -> None:
    response = post(
        admin,
        "/admin/staff",
        {
            "username": "newclerk",
            "password": "a long enough password",
            "role": "clerk",
            "language": "pt",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == "newclerk")).one()
        user_id, language = user.id, user.preferred_language
    assert language == "pt"
    newcomer = app.test_client()
    # An administrator chose that password: the newcomer replaces it at first sign-in.
    assert first_sign_in(newcomer, "newclerk", "a long enough password").status_code == 302
    assert '<html lang="pt"' in newcomer.get("/").get_data(as_text=True)

    post(admin, f"/admin/staff/{user_id}/active", {"active": "0"})
    with app.app_context():
        assert db.session.get(StaffUser, user_id).active is False
    # A deactivated account is signed out at its next request and cannot sign in again.
    assert newcomer.get("/").status_code == 302
    assert login(app.test_client(), "newclerk", "a long enough password").status_code == 422


def test_admin_cannot_deactivate_themselves(app: Flask, admin: FlaskClient) -> None:
    with app.app_context():
        admin_id = db.session.scalars(
            select(StaffUser.id).where(StaffUser.username == "admin")
        ).one()
    post(admin, f"/admin/staff/{admin_id}/active", {"active": "0"})
    assert admin.get("/admin/staff").status_code == 200


def test_admin_keys_page_and_rotation(app: Flask, admin: FlaskClient) -> None:
    page = admin.get("/admin/keys").get_data(as_text=True)
    kids_before = re.findall(r'<td class="mono">([0-9a-f]{16})</td>', page)
    assert len(kids_before) == 1
    assert "Root key fingerprint" in page
    response = post(admin, "/admin/keys/rotate")
    assert response.status_code == 302
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert len(re.findall(r'<td class="mono">([0-9a-f]{16})</td>', page)) == 2
    assert "Retired" in page


def test_when_expired_the_card_shows_expired(
    app: Flask, clerk: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    later = _card(app, number).expires_at + timedelta(days=1)
    monkeypatch.setattr(resident_views, "utcnow", lambda: later)
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert 'class="status status--expired"' in page
    assert "Print the card" not in page


def test_admin_resets_a_password_and_unlocks(app: Flask, admin: FlaskClient) -> None:
    for _ in range(int(app.config["MAX_FAILED_LOGINS"])):
        login(app.test_client(), "clerk", "wrong password!")
    assert login(app.test_client(), "clerk").status_code == 422  # locked
    with app.app_context():
        clerk_id = db.session.scalars(
            select(StaffUser.id).where(StaffUser.username == "clerk")
        ).one()
    response = post(
        admin, f"/admin/staff/{clerk_id}/password", {f"user{clerk_id}-password": "short"}
    )
    assert response.status_code == 422
    assert f'href="#user{clerk_id}-password"' in response.get_data(as_text=True)
    response = post(
        admin,
        f"/admin/staff/{clerk_id}/password",
        {f"user{clerk_id}-password": "a brand new long password"},
    )
    assert response.status_code == 302
    assert login(app.test_client(), "clerk", "a brand new long password").status_code == 302


def test_statistics_show_counts_only(clerk: FlaskClient, supervisor: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name="Zainab Okafor"))
    _issue(clerk, resident_id)
    page = supervisor.get("/statistics").get_data(as_text=True)
    assert "Residents on record" in page
    assert re.search(r'stat__value">1</p>\s*<p class="stat__label">Residents on record', page)
    assert "Zainab" not in page


def test_audit_integrity_check(app: Flask, clerk: FlaskClient, supervisor: FlaskClient) -> None:
    _issue(clerk, resident_id_from(enrol(clerk)))
    page = supervisor.get("/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "The audit log is intact" in page
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "card.issue")
        ).one()
        entry.detail = "tampered"
        db.session.commit()
    page = supervisor.get("/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "fails its integrity check" in page


def test_correcting_a_record_keeps_the_photo_and_rechecks_documents(
    app: Flask, clerk: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk, display_name="Amina Hadad"))
    page = clerk.get(f"/residents/{resident_id}/edit").get_data(as_text=True)
    assert 'value="Amina Hadad"' in page
    assert "(optional)" in page  # the photo may stay as it is
    response = post(
        clerk,
        f"/residents/{resident_id}/edit",
        {"display_name": "Amina Haddad", "birth_date": "1990-04-27", "preferred_language": "fr"},
    )
    assert response.status_code == 422  # documents must be checked again
    assert 'id="documents-error"' in response.get_data(as_text=True)
    response = post(
        clerk,
        f"/residents/{resident_id}/edit",
        {
            "display_name": "Amina Haddad",
            "birth_date": "1990-04-27",
            "preferred_language": "fr",
            "documents": ["passport", "utility_bill"],
        },
    )
    assert response.status_code == 302
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "Amina Haddad" in page
    assert "data:image/jpeg;base64," in page  # the photo was kept
    assert "resident.update" in _actions(app)


def test_every_problem_is_reported_in_one_round(clerk: FlaskClient) -> None:
    response = enrol(clerk, display_name="", birth_date="", documents=[], photo=None)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("display_name", "birth_date", "photo"):
        assert f'href="#{field}"' in page, field
    assert "The birth date is required." in page


def test_admin_revokes_a_compromised_key(app: Flask, admin: FlaskClient) -> None:
    page = admin.get("/admin/keys").get_data(as_text=True)
    kid = re.findall(r'<td class="mono">([0-9a-f]{16})</td>', page)[0]
    response = post(admin, f"/admin/keys/{kid}/revoke", {f"key{kid}-kid": "0000000000000000"})
    assert response.status_code == 422
    assert f'href="#key{kid}-kid"' in response.get_data(as_text=True)
    response = post(admin, f"/admin/keys/{kid}/revoke", {f"key{kid}-kid": kid.upper()})
    assert response.status_code == 302
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert "is revoked" in page
    assert len(re.findall(r'<td class="mono">([0-9a-f]{16})</td>', page)) == 2  # a fresh one
    assert post(admin, "/admin/keys/ffffffffffffffff/revoke", {}).status_code == 404


def test_the_key_page_lists_the_cards_a_revoked_key_leaves_to_reprint(
    app: Flask, clerk: FlaskClient, admin: FlaskClient
) -> None:
    numbers = sorted(
        _issue(clerk, resident_id_from(enrol(clerk, display_name=name)))
        for name in ("Amina Haddad", "Li Wei")
    )
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert "Cards to reissue" not in page
    kid = re.findall(r'<td class="mono">([0-9a-f]{16})</td>', page)[0]
    assert post(admin, f"/admin/keys/{kid}/revoke", {f"key{kid}-kid": kid}).status_code == 302
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert f"Cards to reissue: key {kid} is revoked" in page
    listed = re.findall(r'<li><a class="mono" href="/\?number=([0-9A-Z-]+)">', page)
    assert listed == numbers


def test_database_failure_shows_an_error_page_not_a_traceback(
    app: Flask, clerk: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from cardservice.services import keys
    from cardservice.services.residents import audited_reads

    def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(audited_reads, "get_resident", broken)
    monkeypatch.setattr(keys, "get_city", broken)
    response = clerk.get("/residents/" + "0" * 32)
    page = response.get_data(as_text=True)
    # A database that cannot answer is a passing fault (cardservice.dbfaults), not a bug.
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Service briefly unavailable" in page
    assert "Traceback" not in page and "OperationalError" not in page


def test_audit_filters_by_staff_action_and_dates(
    app: Flask, clerk: FlaskClient, supervisor: FlaskClient
) -> None:
    resident_id = resident_id_from(enrol(clerk))
    _issue(clerk, resident_id)
    with app.app_context():
        clerk_id = db.session.scalars(
            select(StaffUser.id).where(StaffUser.username == "clerk")
        ).one()
        day = db.session.scalars(select(AuditEntry.at).order_by(AuditEntry.id.desc())).first()
    today = day.date().isoformat()

    def rows(**query: str) -> str:
        response = supervisor.get("/audit", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response.get_data(as_text=True).split("<tbody>", 1)[1]

    by_clerk = rows(staff=str(clerk_id), action="card.issue")
    assert "Card issued" in by_clerk and "Resident enrolled" not in by_clerk
    assert "Card issued" in rows(**{"from": today, "to": today})
    assert "No entries" in supervisor.get(
        "/audit", query_string={"from": "2001-01-01", "to": "2001-01-02"}
    ).get_data(as_text=True)
    # The record's id is a link to the record, and the number never wraps.
    page = rows(action="resident.enrol")
    assert f'href="/residents/{resident_id}"' in page
    assert 'class="mono nowrap"' in page
    # Hand-edited filters are field errors, not 500s.
    for query in (
        {"staff": "99999"},
        {"action": "drop table"},
        {"from": "yesterday"},
        {"from": "2026-03-02", "to": "2026-03-01"},
    ):
        assert supervisor.get("/audit", query_string=query).status_code == 422


def test_only_possible_actions_are_shown(app: Flask, clerk: FlaskClient) -> None:
    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    # A brand-new card: no "Renew" (it would be refused), but when it becomes renewable.
    assert f"/cards/{number}/renew" not in page
    assert "Can be renewed from" in page
    # Near its expiry the button is there, and renewing works.
    with app.app_context():
        card = db.session.scalars(select(Card).where(Card.number == number)).one()
        card.expires_at = card.issued_at + timedelta(days=30)
        db.session.commit()
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert f"/cards/{number}/renew" in page
    assert post(clerk, f"/cards/{number}/renew").status_code == 302


def test_dates_follow_the_city_in_the_ui_language(app: Flask, clerk: FlaskClient) -> None:
    from babel.dates import format_date

    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    expires = _card(app, number).expires_at.date()
    page = clerk.get(f"/residents/{resident_id}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert '<html lang="en"' in page
    # English words, the French city's order: "4 Dec 2031", never "Dec 4, 2031" or "12/4/31".
    assert format_date(expires, "medium", locale="en_FR") in page
    assert format_date(expires, "medium", locale="en_US") not in page
    assert format_date(expires, "short", locale="en_US") not in page
    # CARDSERVICE_CITY_LOCALE sets the conventions explicitly.
    app.extensions["cardservice"] = __import__("dataclasses").replace(
        app.extensions["cardservice"], city_locale="en_US"
    )
    page = clerk.get(f"/residents/{resident_id}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert format_date(expires, "medium", locale="en_US") in page


def test_send_to_the_card_printer(app: Flask, clerk: FlaskClient, tmp_path) -> None:
    import dataclasses

    from tests.ippeve import ippeveprinter

    resident_id = resident_id_from(enrol(clerk))
    number = _issue(clerk, resident_id)
    page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
    assert "Send to the card printer" not in page  # none set up
    with ippeveprinter(tmp_path / "printer") as printer:
        app.extensions["cardservice"] = dataclasses.replace(
            app.extensions["cardservice"], card_printer_uri=printer.uri
        )
        page = clerk.get(f"/residents/{resident_id}").get_data(as_text=True)
        assert "Send to the card printer" in page
        response = post(clerk, f"/cards/{number}/printer")
        assert response.status_code == 302
        page = clerk.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
        assert f"Card {number} is sent to the card printer" in page
    assert "card.print" in _actions(app)
    # The printer gone: a clear message on the page, no 500.
    response = post(clerk, f"/cards/{number}/printer")
    assert response.status_code == 302
    page = clerk.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "The card printer cannot be reached" in page
