"""Service functions: enrolment, cards and their lifecycle, status lists, search, erasure."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

import cardformat
from cardservice.models import AuditEntry, Card, Resident, ResidentKey, StatusListRecord
from cardservice.services import cards, keys, residents
from cardservice.services.audit import verify_chain
from cardservice.services.errors import (
    CityExistsError,
    ConflictError,
    InsufficientDocumentsError,
    MasterKeyUnavailableError,
    NotFoundError,
    PhotoError,
    ValidationError,
)

from .conftest import NOW, enrolment, make_photo


def _status_of(session: Any, card_number: str) -> int:
    card = session.scalars(select(Card).where(Card.number == card_number)).one()
    size = session.scalar(select(StatusListRecord.size).limit(1))
    record = session.get(StatusListRecord, card.status_index // size)
    return cardformat.StatusList.from_lst(record.lst, bits=2).get(card.status_index % size)


def _resolver(session: Any) -> Any:
    def resolve(kid: bytes) -> cardformat.TrustedKey | None:
        for info in keys.list_keys(session):
            if info.kid == kid.hex():
                from cardservice.models import SigningKey

                record = session.scalars(select(SigningKey).where(SigningKey.kid == info.kid)).one()
                return cardformat.TrustedKey(
                    kid=kid,
                    public_key=cardformat.load_public_key(record.public_key),
                    issuer="FR SXB",
                    state=cardformat.KeyState(record.state),
                    retired_at=record.retired_at,
                )
        return None

    return resolve


def test_init_city_refuses_to_overwrite(session, deps, actor, city) -> None:
    with pytest.raises(CityExistsError):
        keys.init_city(session, deps, code="DE BER", names={"de": "Berlin"}, now=NOW, actor=actor)
    assert city.code == "FR SXB"
    assert len(keys.list_keys(session)) == 1
    assert keys.root_fingerprint(session) == cardformat.fingerprint(city.root_public_key)


def test_init_city_validates_code(session, deps, actor) -> None:
    with pytest.raises(ValidationError) as info:
        keys.init_city(session, deps, code="Strasbourg", names={"fr": "S"}, now=NOW, actor=actor)
    assert "code" in info.value.errors


def test_keys_are_encrypted_at_rest(session, deps, city) -> None:
    from cardservice.models import SigningKey
    from cardservice.services.keyseal import MAGIC, KeySealer

    sealed = session.scalars(select(SigningKey.private_key_pem)).one()
    assert sealed.startswith(MAGIC)
    assert city.root_private_key_pem.startswith(MAGIC)
    with pytest.raises(cardformat.KeyFileError):
        KeySealer(b"wrong passphrase").open(sealed)


def test_enrol_issue_and_verify_token(session, deps, actor, city) -> None:
    result = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    assert result.points.by_kind == {"identity": 3, "residence": 1}
    assert result.possible_duplicates == []
    issued = cards.issue_card(session, deps, result.resident_id, now=NOW, actor=actor)
    assert issued.qr.startswith("MC1:")
    assert issued.expires_at.date() == date(2031, 3, 2)
    verified = cardformat.verify_card(issued.qr, resolve_key=_resolver(session), now=NOW)
    assert verified.card.holder_name == "Amira Haddad"
    assert verified.card.birth_date == date(1990, 4, 17)
    assert verified.card.number == issued.number
    assert verified.issuer == "FR SXB"
    card = cards.get_card(session, issued.number.lower().replace("-", ""))
    assert card.status == "valid" and card.resident_id == result.resident_id
    assert 0 <= card.status_index < 131072


def test_resident_view_round_trips_encrypted_fields(session, deps, actor, city) -> None:
    result = residents.enrol_resident(
        session, deps, enrolment(gender_marker=None, address=None), now=NOW, actor=actor
    )
    view = residents.get_resident(session, deps, result.resident_id)
    assert view.display_name == "Amira Haddad"
    assert view.gender_marker is None and view.address is None
    assert view.preferred_language == "ar"
    assert view.photo is not None and view.photo.startswith(b"\xff\xd8")


def test_photo_is_reencoded_and_stripped(session, deps, actor, city) -> None:
    photo = make_photo(size=(1600, 2000), exif_gps=True)
    assert b"SpyCam" in photo
    result = residents.enrol_resident(session, deps, enrolment(photo=photo), now=NOW, actor=actor)
    stored = residents.get_resident(session, deps, result.resident_id).photo
    assert stored is not None and b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert image.size[0] <= 600 and image.size[1] <= 800
        assert not image.getexif()


def test_png_photo_accepted(session, deps, actor, city) -> None:
    result = residents.enrol_resident(
        session, deps, enrolment(photo=make_photo("PNG")), now=NOW, actor=actor
    )
    assert residents.get_resident(session, deps, result.resident_id).photo.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    "photo",
    [
        b"%PDF-1.7\n1 0 obj<<>>endobj\n",  # a PDF renamed .jpg
        b"GIF89a" + b"\x00" * 100,
        b"\xff\xd8\xff\xe0" + b"\x00" * 50,  # truncated JPEG
        b"",
    ],
)
def test_bad_photos_refused(session, deps, actor, city, photo: bytes) -> None:
    with pytest.raises(PhotoError):
        residents.enrol_resident(session, deps, enrolment(photo=photo), now=NOW, actor=actor)
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_decompression_bomb_refused(session, deps, actor, city) -> None:
    from .test_hostile_inputs import _bomb_png

    bomb = _bomb_png()
    assert bomb[12:16] == b"IHDR" and bomb[16:24] == (30000).to_bytes(4, "big") * 2
    assert len(bomb) < 300_000
    with pytest.raises(PhotoError):
        residents.enrol_resident(session, deps, enrolment(photo=bomb), now=NOW, actor=actor)


def test_documents_below_minimum_refused(session, deps, actor, city) -> None:
    with pytest.raises(InsufficientDocumentsError) as info:
        residents.enrol_resident(
            session,
            deps,
            enrolment(documents=["driving_licence", "utility_bill"]),
            now=NOW,
            actor=actor,
        )
    assert info.value.extra["points"] == {"identity": 2, "residence": 1}
    # Points add up across documents of the same kind; a category counts once.
    ok = residents.enrol_resident(
        session,
        deps,
        enrolment(documents=["driving_licence", "school_record", "shelter_letter"]),
        now=NOW,
        actor=actor,
    )
    assert ok.points.by_kind == {"identity": 3, "residence": 1}
    with pytest.raises(InsufficientDocumentsError):
        residents.enrol_resident(
            session,
            deps,
            enrolment(
                documents=["school_record", "school_record", "school_record", "lease_or_deed"]
            ),
            now=NOW,
            actor=actor,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("display_name", ""),
        ("display_name", "A" * 101),
        ("display_name", "Evil\u202eName"),
        ("display_name", "Tab\tName"),
        ("display_name", 42),
        ("birth_date", "17/04/1990"),
        ("birth_date", "2030-01-01"),
        ("birth_date", "2020-01-01"),  # younger than the policy's minimum age
        ("birth_date", None),
        ("gender_marker", "Q"),
        ("address", "x" * 201),
        ("preferred_language", "xx"),
        ("documents", "passport"),
        ("documents", ["no_such_category"]),
    ],
)
def test_invalid_fields(session, deps, actor, city, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        residents.enrol_resident(session, deps, enrolment(**{field: value}), now=NOW, actor=actor)
    assert field in info.value.errors
    assert session.scalar(select(func.count()).select_from(Resident)) == 0


def test_display_name_normalised(session, deps, actor, city) -> None:
    decomposed = "Jose\u0301   Marti\u0301"
    result = residents.enrol_resident(
        session, deps, enrolment(display_name=decomposed), now=NOW, actor=actor
    )
    assert residents.get_resident(session, deps, result.resident_id).display_name == "José Martí"


def test_duplicate_stopped_then_confirmed(session, deps, actor, city) -> None:
    from cardservice.services.duplicates import PossibleDuplicateError

    first = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    # Before anything is written: the candidate is named, no key and no record are stored.
    keys_before = session.scalar(select(func.count()).select_from(ResidentKey))
    with pytest.raises(PossibleDuplicateError) as info:
        residents.enrol_resident(
            session, deps, enrolment(display_name="amira  HADDAD"), now=NOW, actor=actor
        )
    assert info.value.candidates == [first.resident_id] and info.value.status == 409
    assert session.scalar(select(func.count()).select_from(ResidentKey)) == keys_before
    assert session.scalar(select(func.count()).select_from(Resident)) == 1
    second = residents.enrol_resident(
        session,
        deps,
        enrolment(display_name="amira  HADDAD"),
        now=NOW,
        actor=actor,
        confirm_duplicate=frozenset({first.resident_id}),
    )
    assert second.possible_duplicates == [first.resident_id]
    found = residents.find_residents(
        session, deps, display_name="AMIRA haddad", birth_date=date(1990, 4, 17)
    )
    assert {v.id for v in found} == {first.resident_id, second.resident_id}
    assert (
        residents.find_residents(
            session, deps, display_name="Amira Haddad", birth_date=date(1990, 4, 18)
        )
        == []
    )


def test_one_live_card_per_resident(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    with pytest.raises(ConflictError) as info:
        cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    assert info.value.code == "card_exists"


def test_lifecycle_updates_status_list(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    assert _status_of(session, number) == cardformat.Status.VALID

    cards.suspend_card(session, deps, number, reason="investigation", now=NOW, actor=actor)
    assert _status_of(session, number) == cardformat.Status.SUSPENDED
    with pytest.raises(ConflictError):
        cards.print_card(session, deps, number, now=NOW, actor=actor)

    cards.reinstate_card(session, deps, number, now=NOW, actor=actor)
    assert _status_of(session, number) == cardformat.Status.VALID

    with pytest.raises(ValidationError):
        cards.revoke_card(session, deps, number, reason="", now=NOW, actor=actor)
    with pytest.raises(ValidationError):
        cards.revoke_card(session, deps, number, reason="because I said so", now=NOW, actor=actor)
    cards.revoke_card(session, deps, number, reason="fraud", now=NOW, actor=actor)
    assert _status_of(session, number) == cardformat.Status.REVOKED
    with pytest.raises(ConflictError):
        cards.reinstate_card(session, deps, number, now=NOW, actor=actor)
    with pytest.raises(ConflictError):
        cards.revoke_card(session, deps, number, reason="fraud", now=NOW, actor=actor)
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["card.suspend", "card.reinstate", "card.revoke"]


def test_replace_revokes_old_and_issues_new_number(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    later = NOW + timedelta(days=30)
    new = cards.replace_card(session, deps, old.number, reason="stolen", now=later, actor=actor)
    assert new.number != old.number
    assert cards.get_card(session, old.number).status == "revoked"
    assert cards.get_card(session, old.number).status_reason == "stolen"
    assert cards.get_card(session, new.number).status == "valid"
    assert _status_of(session, old.number) == cardformat.Status.REVOKED
    with pytest.raises(ValidationError):
        cards.replace_card(session, deps, new.number, reason="bored", now=later, actor=actor)


def test_renew_only_within_window(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    with pytest.raises(ConflictError) as info:
        cards.renew_card(session, deps, issued.number, now=NOW, actor=actor)
    assert info.value.code == "renewal_too_early"
    near_expiry = issued.expires_at - timedelta(days=30)
    renewed = cards.renew_card(session, deps, issued.number, now=near_expiry, actor=actor)
    assert renewed.number == issued.number
    assert renewed.expires_at.date() == (near_expiry.replace(year=near_expiry.year + 5)).date()


def test_reprint_resigns_with_current_key(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    new_key = keys.rotate_signing_key(session, deps, now=NOW + timedelta(days=1), actor=actor)
    printable = cards.print_card(
        session, deps, issued.number, now=NOW + timedelta(days=2), actor=actor, reprint=True
    )
    assert printable.number == issued.number
    assert printable.expires == issued.expires_at.date()
    assert printable.holder_name == "Amira Haddad"
    assert printable.city_name == "Strasbourg"
    verified = cardformat.verify_card(
        printable.qr_text, resolve_key=_resolver(session), now=NOW + timedelta(days=2)
    )
    assert verified.kid.hex() == new_key.kid
    assert cards.get_card(session, issued.number).kid == new_key.kid


def test_key_rotation_and_revocation(session, deps, actor, city) -> None:
    first = keys.list_keys(session)[0]
    rotated = keys.rotate_signing_key(session, deps, now=NOW, actor=actor)
    states = {k.kid: k.state for k in keys.list_keys(session)}
    assert states == {first.kid: "retired", rotated.kid: "active"}
    keys.revoke_signing_key(session, deps, kid=rotated.kid, now=NOW, actor=actor)
    states = {k.kid: k.state for k in keys.list_keys(session)}
    assert states[rotated.kid] == "revoked"
    # Revoking the active key creates a fresh one: the counter can go on issuing.
    assert list(states.values()).count("active") == 1
    with pytest.raises(NotFoundError):
        keys.revoke_signing_key(session, deps, kid="00" * 8, now=NOW, actor=actor)
    with pytest.raises(ConflictError):
        keys.revoke_signing_key(session, deps, kid=rotated.kid, now=NOW, actor=actor)


def test_erasure_revokes_cards_and_destroys_data(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    wrapped = session.get(ResidentKey, rid).wrapped_data_key
    assert residents.erase_resident(session, deps, rid, now=NOW, actor=actor) == [number]
    assert session.get(Resident, rid) is None
    card = cards.get_card(session, number)
    assert card.status == "revoked" and card.status_reason == "holder_request"
    assert card.resident_id is None
    assert _status_of(session, number) == cardformat.Status.REVOKED
    with pytest.raises(NotFoundError):
        residents.get_resident(session, deps, rid)
    with pytest.raises(ConflictError):
        cards.print_card(session, deps, number, now=NOW, actor=actor)
    # Nothing anywhere still holds the wrapped key: the key store had its only copy.
    assert session.get(ResidentKey, rid) is None
    assert session.scalar(select(func.count()).where(ResidentKey.wrapped_data_key == wrapped)) == 0


def test_audit_chain_detects_tampering(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    cards.revoke_card(session, deps, number, reason="lost", now=NOW, actor=actor)
    assert verify_chain(session) == []
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "card.issue")).one()
    entry.actor = "staff:999"
    session.commit()
    problems = verify_chain(session)
    assert [(p.entry_id, p.problem) for p in problems] == [(entry.id, "edited")]


def test_audit_chain_detects_deletion(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident.enrol")).one()
    session.delete(entry)
    session.commit()
    assert any(p.problem == "broken_link" for p in verify_chain(session))


def test_audit_carries_no_personal_data(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    for entry in session.scalars(select(AuditEntry)):
        text = " ".join(str(v) for v in (entry.actor, entry.action, entry.subject, entry.detail))
        assert "Amira" not in text and "1990" not in text and "Fleurs" not in text


def test_retention_candidates(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    issued = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    never_issued = residents.enrol_resident(
        session, deps, enrolment(display_name="Li Wei"), now=NOW, actor=actor
    ).resident_id
    assert residents.retention_candidates(session, deps, now=NOW) == []
    after_grace = issued.expires_at + timedelta(days=400)
    found = residents.retention_candidates(session, deps, now=after_grace)
    assert {c.resident_id for c in found} == {rid, never_issued}
    assert residents.purge_expired(session, deps, now=after_grace, actor=actor) == 2
    assert session.scalar(select(func.count()).select_from(Resident)) == 0
    assert cards.get_card(session, issued.number).resident_id is None


def test_unknown_numbers_and_ids_are_not_found(session, deps, city) -> None:
    for number in ("", "ZZZZ-ZZZ", "x" * 500, None, 12):
        with pytest.raises(NotFoundError):
            cards.get_card(session, number)
    for rid in ("", "0" * 32, "../etc/passwd", None):
        with pytest.raises(NotFoundError):
            residents.get_resident(session, deps, rid)


def test_photo_error_messages_are_translatable(deps) -> None:
    from cardservice.services.photos import process_photo

    with pytest.raises(PhotoError) as info:
        process_photo(b"not an image at all", deps.policy)
    assert info.value.code == "invalid_photo"
    assert str(info.value.message) == "The photo must be a JPEG or PNG image."


def test_master_key_rotation_rewraps_without_touching_records(
    app, session, deps, actor, city
) -> None:
    import os
    from dataclasses import replace

    from cardservice.config import decode_key
    from cardservice.services.crypto import LocalMasterKeyProvider, ResidentCipher

    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old_ciphertext = session.get(Resident, rid).ciphertext
    old_wrapped = session.get(ResidentKey, rid).wrapped_data_key
    old_key = decode_key("MASTER_KEY", app.config["MASTER_KEY"])
    index_key = decode_key("INDEX_KEY", app.config["INDEX_KEY"])
    new_key = os.urandom(32)

    def with_provider(provider: LocalMasterKeyProvider) -> Any:
        return replace(deps, cipher=ResidentCipher(provider, index_key))

    only_new = with_provider(LocalMasterKeyProvider(new_key))
    # The old key missing is an operator's problem with a stable code, not a bare CryptoError.
    with pytest.raises(MasterKeyUnavailableError):
        residents.get_resident(session, only_new, rid)

    rotating = with_provider(LocalMasterKeyProvider(new_key, previous=[old_key]))
    assert residents.rewrap_data_keys(session, rotating, now=NOW, actor=actor) == 1
    assert session.get(Resident, rid).ciphertext == old_ciphertext  # the record is untouched
    after = session.get(ResidentKey, rid)  # only the key store changed
    assert after.wrapped_data_key != old_wrapped
    assert after.master_key_id == only_new.cipher.provider.key_id
    # The new key alone now opens it; a second run has nothing to do.
    assert residents.get_resident(session, only_new, rid).display_name == "Amira Haddad"
    assert residents.rewrap_data_keys(session, rotating, now=NOW, actor=actor) == 0
    assert (
        session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()[-1]
        == "master_key.rewrap"
    )


def test_concurrent_revocations_lose_no_update(app, session, deps, actor, city) -> None:
    """Several workers revoking different cards at once: every bit lands in the status list
    (row locks on PostgreSQL, immediate transactions on SQLite), none fails."""
    import threading

    from cardservice.extensions import db

    numbers = []
    for i in range(6):
        rid = residents.enrol_resident(
            session, deps, enrolment(display_name=f"Person {i}", photo=None), now=NOW, actor=actor
        ).resident_id
        numbers.append(cards.issue_card(session, deps, rid, now=NOW, actor=actor).number)
    session.remove()
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(numbers))

    def revoke(number: str) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                cards.revoke_card(db.session, deps, number, reason="lost", now=NOW, actor=actor)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=revoke, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for number in numbers:
        assert _status_of(session, number) == cardformat.Status.REVOKED
    assert verify_chain(session) == []


def test_concurrent_issue_gives_one_card(app, session, deps, actor, city) -> None:
    """Two clerks (or one double click) issuing for the same resident at once: one card."""
    import threading

    from cardservice.extensions import db
    from cardservice.services.errors import ServiceError

    rid = residents.enrol_resident(
        session, deps, enrolment(photo=None), now=NOW, actor=actor
    ).resident_id
    session.remove()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def issue() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                cards.issue_card(db.session, deps, rid, now=NOW, actor=actor)
                outcomes.append("issued")
            except ServiceError as exc:
                outcomes.append(exc.code)
            except BaseException as exc:  # anything else is a failure of the test
                outcomes.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["card_exists"] * 3 + ["issued"]
    assert session.scalar(select(func.count()).select_from(Card)) == 1


def test_update_resident_reseals_and_reindexes(session, deps, actor, city) -> None:
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    old = session.get(Resident, rid)
    old_ciphertext, old_index = old.ciphertext, old.blind_index
    old_key = session.get(ResidentKey, rid).wrapped_data_key
    residents.update_resident(
        session,
        deps,
        rid,
        enrolment(display_name="Amira Haddad-Khoury", photo=None, address=None),
        now=NOW + timedelta(days=1),
        actor=actor,
    )
    view = residents.get_resident(session, deps, rid)
    assert view.display_name == "Amira Haddad-Khoury" and view.address is None
    assert view.photo is not None  # no new photo: the current one is kept
    updated = session.get(Resident, rid)
    # Re-encrypted (fresh nonce) under the same data key: a correction touches the resident
    # database only, so it never needs a commit in both databases.
    assert updated.ciphertext != old_ciphertext
    assert session.get(ResidentKey, rid).wrapped_data_key == old_key
    assert updated.blind_index != old_index
    assert [
        v.id
        for v in residents.find_residents(
            session, deps, display_name="amira haddad-khoury", birth_date=date(1990, 4, 17)
        )
    ] == [rid]
    with pytest.raises(ValidationError):
        residents.update_resident(
            session, deps, rid, enrolment(display_name=""), now=NOW, actor=actor
        )
    assert residents.get_resident(session, deps, rid).display_name == "Amira Haddad-Khoury"


def test_staff_accounts_deactivate_and_password(session, actor) -> None:
    from cardservice.services import staff
    from cardservice.services.errors import AuthenticationError

    user = staff.create_user(
        session,
        username="li.wei",
        password="first long password",
        role="clerk",
        now=NOW,
        actor=actor,
    )
    assert staff.authenticate(session, username="li.wei", password="first long password", now=NOW)
    staff.set_password(
        session, user_id=user.id, password="second long password", now=NOW, actor=actor
    )
    with pytest.raises(AuthenticationError):
        staff.authenticate(session, username="li.wei", password="first long password", now=NOW)
    staff.set_user_active(session, user_id=user.id, active=False, now=NOW, actor=actor)
    with pytest.raises(AuthenticationError):
        staff.authenticate(session, username="li.wei", password="second long password", now=NOW)
    with pytest.raises(NotFoundError):
        staff.set_password(session, user_id=999, password="x" * 20, now=NOW, actor=actor)
    assert [u.username for u in staff.list_users(session)] == ["li.wei"]
    assert staff.role_allows("admin", "supervisor") and not staff.role_allows("clerk", "admin")


def test_photo_orientation_applied_and_all_metadata_dropped(deps) -> None:
    from cardservice.services.photos import process_photo

    image = Image.new("RGB", (800, 600), (90, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "SpyCam Inc"
    source = io.BytesIO()
    image.save(
        source,
        format="JPEG",
        exif=exif,
        icc_profile=b"FAKE-ICC-PROFILE" * 8,
        comment=b"secret comment",
    )
    data = source.getvalue()
    assert b"secret comment" in data and b"FAKE-ICC" in data
    out = process_photo(data, deps.policy)
    for marker in (b"SpyCam", b"secret comment", b"FAKE-ICC", b"Exif"):
        assert marker not in out
    with Image.open(io.BytesIO(out)) as result:
        assert result.size[0] < result.size[1]  # portrait: the orientation was applied
        assert "icc_profile" not in result.info and "comment" not in result.info


def test_retention_purge_spares_a_resident_issued_a_card_after_the_list_was_read(
    session, deps, actor, city, monkeypatch
) -> None:
    """The purge judges each candidate again under its lock before destroying a key: a card
    issued between the listing and the purge keeps its holder's record readable."""
    rid = residents.enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    first = cards.issue_card(session, deps, rid, now=NOW, actor=actor)
    after_grace = first.expires_at + timedelta(days=400)
    stale = residents.retention_candidates(session, deps, now=after_grace)
    assert [c.resident_id for c in stale] == [rid]
    # The resident comes back for a new card after the purge listed them.
    renewed = cards.issue_card(session, deps, rid, now=after_grace, actor=actor)
    monkeypatch.setattr(residents, "retention_candidates", lambda *_a, **_k: stale)
    assert residents.purge_expired(session, deps, now=after_grace, actor=actor) == 0
    assert residents.get_resident(session, deps, rid).display_name == enrolment().display_name
    assert cards.get_card(session, renewed.number).resident_id == rid
