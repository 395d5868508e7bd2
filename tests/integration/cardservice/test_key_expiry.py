"""A signing key is never used outside its validity: the first signature near its not_after
rotates it (keys.rotate_if_due), so cards and status lists signed after a year still verify at
a partner that checks nbf..exp (docs/card-format.md section 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import cardformat
from cardservice.models import AuditEntry
from cardservice.services import cards, keys, publication, residents
from cardservice.services.errors import SigningKeyError

from .conftest import NOW, enrolment

# The first key's end (init_city at NOW).
KEY_END = NOW + keys.SIGNING_KEY_LIFETIME


def _partner_resolver(session: Any, deps: Any, *, now: Any) -> Any:
    """Resolve keys as a partner does: from the published, root-signed metadata."""
    document = publication.issuer_metadata(session, deps, now=now)
    meta = cardformat.verify_metadata(
        document.body, pinned_fingerprint=keys.root_fingerprint(session), now=now
    )
    trusted = {key.kid: key for key in meta.trusted_keys()}
    return trusted.get


def _active_kid(session: Any) -> str:
    return next(k.kid for k in keys.list_keys(session) if k.state == "active")


def _enrol(session: Any, deps: Any, actor: Any) -> str:
    # The same sample resident each time: confirmed as the duplicate check asks.
    return residents.enrol_resident(
        session, deps, enrolment(), now=NOW, actor=actor, confirm_duplicate=True
    ).resident_id


def test_a_card_issued_after_the_key_expired_is_signed_by_a_fresh_key(
    session, deps, actor, city
) -> None:
    first = _active_kid(session)
    rid = _enrol(session, deps, actor)
    later = KEY_END + timedelta(days=10)
    issued = cards.issue_card(session, deps, rid, now=later, actor=actor)
    assert issued.kid != first
    verified = cardformat.verify_card(
        issued.qr, resolve_key=_partner_resolver(session, deps, now=later), now=later
    )
    assert verified.kid.hex() == issued.kid
    states = {k.kid: k.state for k in keys.list_keys(session)}
    assert states == {first: "retired", issued.kid: "active"}
    # Audited as a rotation, by the system, before the issue.
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [(e.actor, e.action) for e in entries[-3:]]
    assert actions == [
        ("system:key-expiry", "key.retire"),
        ("system:key-expiry", "key.create"),
        (actor.label, "card.issue"),
    ]


def test_the_key_is_rotated_within_the_margin_not_before(session, deps, actor, city) -> None:
    first = _active_kid(session)
    rid = _enrol(session, deps, actor)
    early = KEY_END - keys.ROTATE_AHEAD - timedelta(hours=1)
    issued = cards.issue_card(session, deps, rid, now=early, actor=actor)
    assert issued.kid == first
    late = KEY_END - keys.ROTATE_AHEAD + timedelta(hours=1)
    printed = cards.print_card(session, deps, issued.number, now=late, actor=actor, reprint=True)
    reprinted_kid = cards.get_card(session, issued.number).kid
    assert reprinted_kid != first
    # Verified after the old key's end: the reprint carries the new key.
    after = KEY_END + timedelta(seconds=1)
    verified = cardformat.verify_card(
        printed.qr_text, resolve_key=_partner_resolver(session, deps, now=after), now=after
    )
    assert verified.kid.hex() == reprinted_kid


def test_batch_print_renew_and_replace_never_sign_with_an_expired_key(
    session, deps, actor, city
) -> None:
    first = _active_kid(session)
    rid = _enrol(session, deps, actor)
    number = cards.issue_card(session, deps, rid, now=NOW, actor=actor).number
    later = KEY_END + timedelta(days=1)
    [printable] = list(cards.print_batch(session, deps, [number], now=later, actor=actor))
    second = cards.get_card(session, number).kid
    assert second != first
    resolve = _partner_resolver(session, deps, now=later)
    cardformat.verify_card(printable.qr_text, resolve_key=resolve, now=later)
    # A second year: renewal and replacement rotate again.
    year_two = later + keys.SIGNING_KEY_LIFETIME + timedelta(days=1)
    renew_at = cards.get_card(session, number).expires_at - timedelta(days=10)
    assert renew_at > year_two  # five-year cards: renewable long after the key's end
    replaced = cards.replace_card(session, deps, number, reason="lost", now=year_two, actor=actor)
    assert replaced.kid not in {first, second}
    cardformat.verify_card(
        replaced.qr, resolve_key=_partner_resolver(session, deps, now=year_two), now=year_two
    )
    year_three = year_two + keys.SIGNING_KEY_LIFETIME
    renewed = cards.renew_card(
        session, deps, replaced.number, now=replaced.expires_at - timedelta(days=10), actor=actor
    )
    assert renewed.kid != replaced.kid
    at = replaced.expires_at - timedelta(days=10)
    assert at > year_three
    cardformat.verify_card(renewed.qr, resolve_key=_partner_resolver(session, deps, now=at), now=at)


def test_a_status_list_signed_after_the_key_expired_verifies(session, deps, actor, city) -> None:
    first = _active_kid(session)
    later = KEY_END + timedelta(days=3)
    token = publication.status_list_token(session, deps, 0, now=later).body
    assert _active_kid(session) != first
    listed = cardformat.verify_status_list(
        token,
        resolve_key=_partner_resolver(session, deps, now=later),
        now=later,
        expected_uri=publication.status_list_uri(deps, 0),
    )
    assert listed is not None


def test_rotate_if_due_rotates_once(session, deps, actor, city) -> None:
    later = KEY_END + timedelta(days=1)
    assert keys.rotate_if_due(session, deps, now=later) is True
    assert keys.rotate_if_due(session, deps, now=later) is False
    assert [k.state for k in keys.list_keys(session)].count("active") == 1
    # Not due: nothing happens.
    assert keys.rotate_if_due(session, deps, now=later + timedelta(days=30)) is False
    assert len(keys.list_keys(session)) == 2


def test_the_key_itself_refuses_to_sign_outside_its_validity(session, deps, city) -> None:
    keys.active_signing_key(session, deps, now=KEY_END - timedelta(seconds=1))
    with pytest.raises(SigningKeyError):
        keys.active_signing_key(session, deps, now=KEY_END)
    with pytest.raises(SigningKeyError):
        keys.active_signing_key(session, deps, now=NOW - timedelta(seconds=1))


def test_expiry_warning_a_month_ahead(session, city) -> None:
    assert keys.expiry_warning(session, now=KEY_END - timedelta(days=31)) is None
    assert keys.expiry_warning(session, now=KEY_END - timedelta(days=29)) == KEY_END


def test_keys_list_warns_a_month_ahead(runner, session, city) -> None:
    from cardservice.models import SigningKey

    # The CLI reads the real clock: the key's end is set relative to it.
    record = session.scalars(select(SigningKey)).one()
    record.not_after = datetime.now(UTC) + timedelta(days=60)
    session.commit()
    assert "Warning" not in runner.invoke(args=["keys", "list"]).output
    record = session.scalars(select(SigningKey)).one()
    record.not_after = datetime.now(UTC) + timedelta(days=10)
    session.commit()
    listing = runner.invoke(args=["keys", "list"])
    assert listing.exit_code == 0
    assert "Warning: the active key ends" in listing.output


def test_two_signatures_at_once_past_the_key_end_rotate_it_once(
    app, session, deps, actor, city
) -> None:
    """Two clerks issue at the same moment after the key's end: one rotation, two cards that
    verify, one active key (the decision is taken again under the city lock; without that, two
    rotations happen on PostgreSQL, while SQLite runs the two transactions one after the other)."""
    import threading

    from cardservice.models import SigningKey

    from .test_locking import _in_thread

    rids = [_enrol(session, deps, actor) for _ in range(2)]
    session.commit()
    later = KEY_END + timedelta(days=2)
    start = threading.Barrier(2)

    def issue(s: Any, rid: str) -> Any:
        start.wait()
        return cards.issue_card(s, deps, rid, now=later, actor=actor)

    threads = [_in_thread(app, lambda s, rid=rid: issue(s, rid)) for rid in rids]
    for thread, _ in threads:
        thread.join()
    outcomes = [outcome[0] for _, outcome in threads]
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    session.expire_all()
    assert session.query(SigningKey).filter_by(state="active").count() == 1
    created = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "key.create", AuditEntry.actor == "system:key-expiry"
        )
    ).all()
    assert len(created) == 1
    resolve = _partner_resolver(session, deps, now=later)
    for issued in outcomes:
        cardformat.verify_card(issued.qr, resolve_key=resolve, now=later)
