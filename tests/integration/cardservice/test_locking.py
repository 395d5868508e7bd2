"""Reads that decide a write, under concurrency (issue 12): threads with sessions of their own.

On PostgreSQL these reproduce the interleavings that lost a revocation and a lockout; on SQLite
(BEGIN IMMEDIATE: one writer at a time) the same tests check that serialisation holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

import cardformat
from tests.integration.cardservice.conftest import NOW, enrolment


def _in_thread(app: Flask, work: Callable[[Any], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `work(session)` in a thread with its own app context, hence its own session."""
    from cardservice.extensions import db

    outcome: list[Any] = []

    def run() -> None:
        with app.app_context():
            try:
                outcome.append(work(db.session))
            except Exception as exc:  # handed to the test, which asserts on it
                outcome.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _issue(session: Any, deps: Any, actor: Any) -> Any:
    from cardservice.models import Card
    from cardservice.services.cards import issue_card
    from cardservice.services.residents import enrol_resident

    resident = enrol_resident(session, deps, enrolment(), now=NOW, actor=actor)
    number = issue_card(session, deps, resident.resident_id, now=NOW, actor=actor).number
    return session.query(Card).filter_by(number=number).one()


def _published_status(session: Any, token: bytes, index: int) -> int:
    from cardservice.models import SigningKey

    keys = {
        bytes.fromhex(k.kid): cardformat.TrustedKey(
            kid=bytes.fromhex(k.kid),
            public_key=cardformat.load_public_key(k.public_key),
            issuer="FR SXB",
        )
        for k in session.query(SigningKey)
    }
    verified = cardformat.verify_status_list(token, resolve_key=keys.get, now=NOW)
    return verified.status_list.get(index % verified.status_list.size)


def test_status_list_signed_after_a_revocation_shows_it(
    app: Flask, session: Any, deps: Any, actor: Any, city: Any
) -> None:
    """The publisher has read the list (its identity map holds it) when a revocation commits;
    the token it then signs must carry the revocation (it published the card as valid)."""
    from cardservice.models import StatusListRecord
    from cardservice.services.cards import revoke_card
    from cardservice.services.publication import status_list_token
    from cardservice.services.statuscheck import check_status_lists

    card = _issue(session, deps, actor)
    number, index = card.number, card.status_index
    session.commit()

    # The publisher's first read, as status_list_token makes it before deciding to re-sign; held
    # (the identity map keeps only objects something refers to) as the function holds it.
    first_read = session.get(StatusListRecord, 0)
    assert first_read is not None and first_read.token is None
    revoker, outcome = _in_thread(
        app,
        lambda s: revoke_card(s, deps, number, reason="stolen", now=NOW, actor=actor),
    )
    # PostgreSQL: the revocation commits now (a plain read locks nothing). SQLite: it waits for
    # the publisher's transaction (BEGIN IMMEDIATE), so it commits after the signing below.
    revoker.join(timeout=2 if session.get_bind().dialect.name == "postgresql" else 0.5)
    revoked_before = not revoker.is_alive()
    token = status_list_token(session, deps, 0, now=NOW + timedelta(seconds=1)).body
    revoker.join()
    assert not isinstance(outcome[0], Exception), outcome
    if revoked_before:
        assert _published_status(session, token, index) == cardformat.Status.REVOKED
    # Either way, what is published from now on shows it, and the check agrees.
    fresh = status_list_token(session, deps, 0, now=NOW + timedelta(seconds=2)).body
    assert _published_status(session, fresh, index) == cardformat.Status.REVOKED
    assert check_status_lists(session).ok


def _slow_password_check(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Make each password check take as long as the production argon2 profile does, so that
    concurrent attempts overlap as they do on a real server."""
    from cardservice.services import passwords

    hasher = passwords._hasher

    class Slow:
        def verify(self, hashed: str, password: str) -> bool:
            time.sleep(seconds)
            return hasher.verify(hashed, password)

        def check_needs_rehash(self, hashed: str) -> bool:
            return hasher.check_needs_rehash(hashed)

        def hash(self, password: str) -> str:
            return hasher.hash(password)

    monkeypatch.setattr(passwords, "_hasher", Slow())


def _attempts(app: Flask, passwords: list[tuple[float, str]], device: Any = None) -> list[Any]:
    """Sign-in attempts at once (each after its delay), each on its own session; from the
    trusted browser `device` when given (services.devices)."""
    from cardservice.services.authentication import authenticate

    start = threading.Barrier(len(passwords))

    def attempt(delay: float, password: str) -> Callable[[Any], Any]:
        def work(s: Any) -> Any:
            start.wait()
            time.sleep(delay)
            return authenticate(s, username="ana", password=password, now=NOW, device=device)

        return work

    threads = [_in_thread(app, attempt(d, p)) for d, p in passwords]
    for thread, _ in threads:
        thread.join()
    return [outcome[0] for _, outcome in threads]


RIGHT = "a long enough password"


@pytest.fixture
def ana(session: Any, actor: Any) -> Any:
    from cardservice.services.staff import create_user

    return create_user(session, username="ana", password=RIGHT, role="clerk", now=NOW, actor=actor)


def test_concurrent_wrong_passwords_lock_the_account(
    app: Flask, session: Any, ana: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardservice.models import AuditEntry, StaffUser
    from cardservice.services.errors import AccountLockedError, AuthenticationError

    _slow_password_check(monkeypatch, 0.3)
    results = _attempts(app, [(0.0, f"wrong password {i}") for i in range(16)])
    assert all(isinstance(r, AuthenticationError | AccountLockedError) for r in results), results
    assert sum(isinstance(r, AccountLockedError) for r in results) >= 11
    session.expire_all()
    user = session.get(StaffUser, ana.id)
    assert user.locked_until is not None and user.locked_until > NOW
    # One lockout, one audit entry.
    assert session.query(AuditEntry).filter_by(action="user.lock").count() == 1
    with pytest.raises(AccountLockedError):
        from cardservice.services.authentication import authenticate

        authenticate(session, username="ana", password=RIGHT, now=NOW)


def test_concurrent_wrong_passwords_from_a_trusted_browser_lock_it_once_and_not_the_account(
    app: Flask, session: Any, ana: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardservice.models import AuditEntry, StaffDevice, StaffUser
    from cardservice.services import devices
    from cardservice.services.authentication import authenticate
    from cardservice.services.errors import AccountLockedError, AuthenticationError

    key = "a secret key for the test"
    value, issued = devices.issue(
        session, secret_key=key, user_id=ana.id, now=NOW, days=90, replaces=None
    )
    device = devices.trusted(session, secret_key=key, value=value, now=NOW, days=90)
    assert device == issued and device.staff_id == ana.id
    session.rollback()  # the read's transaction would hold SQLite's write lock
    _slow_password_check(monkeypatch, 0.3)
    results = _attempts(app, [(0.0, f"wrong password {i}") for i in range(16)], device)
    assert all(isinstance(r, AuthenticationError | AccountLockedError) for r in results), results
    assert sum(isinstance(r, AccountLockedError) for r in results) >= 11
    session.expire_all()
    row = session.query(StaffDevice).one()
    assert row.locked_until is not None and row.locked_until > NOW and row.lockouts == 1
    assert session.query(AuditEntry).filter_by(action="user.device_lock").count() == 1
    assert session.query(AuditEntry).filter_by(action="user.lock").count() == 0
    user = session.get(StaffUser, ana.id)
    assert user.locked_until is None and user.failed_logins == 0
    with pytest.raises(AccountLockedError):
        authenticate(session, username="ana", password=RIGHT, now=NOW, device=device)
    # Any other browser still signs in: the account counted none of these.
    assert authenticate(session, username="ana", password=RIGHT, now=NOW).id == ana.id


def test_right_password_in_a_burst_of_wrong_ones_does_not_sign_in(
    app: Flask, session: Any, ana: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardservice.models import AuditEntry
    from cardservice.services.errors import AccountLockedError, AuthenticationError

    _slow_password_check(monkeypatch, 0.3)
    burst = [(0.0, f"wrong password {i}") for i in range(15)]
    results = _attempts(app, [*burst, (0.1, RIGHT)])
    assert all(isinstance(r, AuthenticationError | AccountLockedError) for r in results), results
    assert isinstance(results[-1], AccountLockedError)
    assert session.query(AuditEntry).filter_by(action="user.login").count() == 0


def test_failures_below_the_limit_then_the_right_password_signs_in(session: Any, ana: Any) -> None:
    """The numbering does not tighten the rule: 4 failures, then the right password, is in."""
    from cardservice.models import StaffUser
    from cardservice.services.authentication import authenticate
    from cardservice.services.errors import AuthenticationError

    for _ in range(4):
        with pytest.raises(AuthenticationError):
            authenticate(session, username="ana", password="wrong password", now=NOW)
    assert authenticate(session, username="ana", password=RIGHT, now=NOW).id == ana.id
    session.expire_all()
    assert session.get(StaffUser, ana.id).failed_logins == 0


def test_status_check_finds_a_published_token_that_lost_a_revocation(
    session: Any, deps: Any, actor: Any, city: Any, runner: Any, client: Any
) -> None:
    """What the race left behind: a token signed before a revocation, cached after it."""
    from sqlalchemy import update

    from cardservice.models import StatusListRecord
    from cardservice.services.cards import revoke_card
    from cardservice.services.publication import status_list_token

    card = _issue(session, deps, actor)
    number, index = card.number, card.status_index
    session.commit()
    result = runner.invoke(args=["status", "check"])
    assert result.exit_code == 0, result.output
    assert "status list 0: ok" in result.output

    before = status_list_token(session, deps, 0, now=NOW).body
    revoke_card(session, deps, number, reason="stolen", now=NOW, actor=actor)
    assert runner.invoke(args=["status", "check"]).exit_code == 0
    assert client.get("/healthz").get_json()["status_lists"] == {"ok": True, "mismatched": []}

    session.execute(update(StatusListRecord).values(token=before, token_issued_at=NOW))
    session.commit()
    result = runner.invoke(args=["status", "check"])
    assert result.exit_code == 1
    assert (
        f"status list 0: 1 difference(s) between the published token and the cards "
        f"(status indices {index})" in result.output
    )
    assert "list(s) 0" in result.output
    assert number not in result.output  # counts and indices, never a card number
    assert client.get("/healthz").get_json()["status_lists"] == {"ok": False, "mismatched": [0]}


def test_status_check_finds_a_list_that_disagrees_with_the_cards(
    session: Any, deps: Any, actor: Any, city: Any, runner: Any
) -> None:
    from sqlalchemy import update

    from cardservice.models import Card

    card = _issue(session, deps, actor)
    index = card.status_index
    session.execute(update(Card).values(status="suspended"))
    session.commit()
    result = runner.invoke(args=["status", "check"])
    assert result.exit_code == 1
    assert (
        f"status list 0: 1 difference(s) between the stored list and the cards "
        f"(status indices {index})" in result.output
    )


def test_concurrent_key_rotations_leave_one_active_key(
    app: Flask, session: Any, deps: Any, actor: Any, city: Any
) -> None:
    """Two administrators rotate at the same moment: each retires what is active when it runs,
    so one key stays active (both used to read the same active key, and two stayed active)."""
    from cardservice.models import SigningKey
    from cardservice.services.keys import rotate_signing_key

    for _ in range(3):
        start = threading.Barrier(2)

        def rotate(s: Any, start: threading.Barrier = start) -> Any:
            start.wait()
            return rotate_signing_key(s, deps, now=NOW, actor=actor)

        threads = [_in_thread(app, rotate) for _ in range(2)]
        for thread, outcome in threads:
            thread.join()
            assert not isinstance(outcome[0], Exception), outcome
        session.expire_all()
        assert session.query(SigningKey).filter_by(state="active").count() == 1
        session.rollback()  # SQLite: a transaction left open would hold the write lock


def test_the_same_user_name_created_twice_at_once_is_one_account_and_a_conflict(
    app: Flask, actor: Any, city: Any
) -> None:
    from cardservice.services.errors import ConflictError
    from cardservice.services.staff import create_user

    start = threading.Barrier(2)

    def create(s: Any) -> Any:
        start.wait()
        return create_user(
            s, username="twice", password=RIGHT, role="clerk", now=NOW, actor=actor
        ).id

    threads = [_in_thread(app, create) for _ in range(2)]
    for thread, _ in threads:
        thread.join()
    outcomes = [outcome[0] for _, outcome in threads]
    assert sum(isinstance(o, int) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ConflictError) for o in outcomes) == 1, outcomes
