"""Two writers that each check a value free, then insert it (issue 12): a card number drawn by
two issuers at once, and two `init-city` runs on an empty database.

The shared draw is forced: both threads meet at a barrier inside the random source (or right
after init_city's existence check), so on PostgreSQL both have checked before either commits.
On SQLite (BEGIN IMMEDIATE: one writer at a time) the second thread cannot reach the barrier
while the first holds the write lock; the barrier times out and the writers run one after the
other, which the same assertions then check.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

import cardformat
from tests.integration.cardservice.conftest import NOW, enrolment
from tests.integration.cardservice.test_locking import _in_thread

_MEET_TIMEOUT = 1.0


def _meeting(first_value: Callable[[], Any], then: Callable[[], Any]) -> Callable[[], Any]:
    """A stand-in for a random source: each thread's first call waits for the other thread's
    first call (at most _MEET_TIMEOUT) and returns `first_value()`; later calls `then()`."""
    barrier = threading.Barrier(2, timeout=_MEET_TIMEOUT)
    seen = threading.local()

    def draw(*args: Any) -> Any:
        if getattr(seen, "done", False):
            return then(*args)
        seen.done = True
        # Broken on SQLite: the other writer waits for this one's transaction to end.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return first_value()

    return draw


def test_two_issuers_drawing_the_same_number_both_get_a_card(
    app: Flask, session: Any, deps: Any, actor: Any, city: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both issuers draw the same free number (and the same status position): each gets a
    card, under different numbers and indices, and nothing else is written twice or lost."""
    from cardservice.models import AuditEntry, Card, StatusListRecord
    from cardservice.services.cards import IssuedCard, issue_card
    from cardservice.services.residents import enrol_resident

    residents = [
        enrol_resident(
            session, deps, enrolment(), now=NOW, actor=actor, confirm_duplicate=True
        ).resident_id
        for _ in range(2)
    ]
    session.commit()
    same_number = cardformat.generate_card_number()
    monkeypatch.setattr(
        cardformat,
        "generate_card_number",
        _meeting(lambda: same_number, cardformat.generate_card_number),
    )
    real_randbelow = cardformat.statuslist.secrets.randbelow
    same_position: list[int] = []

    def position(size: int) -> int:
        # The first draw of each thread is the same position; the later ones are random.
        if not same_position:
            same_position.append(real_randbelow(size))
        return same_position[0]

    first_positions = threading.local()

    def randbelow(size: int) -> int:
        if getattr(first_positions, "done", False):
            return real_randbelow(size)
        first_positions.done = True
        return position(size)

    monkeypatch.setattr(cardformat.statuslist.secrets, "randbelow", randbelow)

    def issue(resident_id: str) -> Callable[[Any], Any]:
        return lambda s: issue_card(s, deps, resident_id, now=NOW, actor=actor)

    threads = [_in_thread(app, issue(r)) for r in residents]
    for thread, _ in threads:
        thread.join()
    outcomes = [outcome[0] for _, outcome in threads]
    assert all(isinstance(o, IssuedCard) for o in outcomes), outcomes
    assert same_number in {o.number for o in outcomes}
    assert len({o.number for o in outcomes}) == 2

    session.expire_all()
    cards = session.query(Card).all()
    assert sorted(c.number for c in cards) == sorted(o.number for o in outcomes)
    assert len({c.status_index for c in cards}) == 2
    assert all(c.kid for c in cards)
    assert session.get(StatusListRecord, 0).allocated == 2
    assert session.query(AuditEntry).filter_by(action="card.issue").count() == 2


def test_a_number_inserted_by_another_writer_after_the_check_is_drawn_again(
    app: Flask, session: Any, deps: Any, actor: Any, city: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another transaction has inserted the drawn number, not yet committed, when the issuer
    checks it (so it looks free), and commits while the issuer inserts it: the issuer's INSERT
    fails on the constraint, and the card gets another number in the same transaction. On
    SQLite the other writer holds the write lock, so the issuer's check already sees it."""
    from cardservice.models import AuditEntry, Card
    from cardservice.services.cards import IssuedCard, issue_card
    from cardservice.services.residents import enrol_resident

    resident_id = enrol_resident(session, deps, enrolment(), now=NOW, actor=actor).resident_id
    session.commit()
    taken = cardformat.generate_card_number()
    inserted = threading.Event()

    def other_writer(s: Any) -> None:
        # A card outside every allocated list, as a concurrent writer would leave it.
        s.add(Card(number=taken, status_index=10**9, issued_at=NOW, expires_at=NOW, kid="x"))
        s.flush()
        inserted.set()
        time.sleep(0.5)  # the issuer checks, then waits on this row's key at its INSERT
        s.commit()

    real = cardformat.generate_card_number
    draws: list[str] = []

    def draw() -> str:
        if not draws:
            inserted.wait(timeout=5)
            draws.append(taken)
        else:
            draws.append(real())
        return draws[-1]

    monkeypatch.setattr(cardformat, "generate_card_number", draw)
    writer, written = _in_thread(app, other_writer)
    inserted.wait(timeout=5)
    issuer, issued = _in_thread(
        app, lambda s: issue_card(s, deps, resident_id, now=NOW, actor=actor)
    )
    writer.join()
    issuer.join()
    assert written == [None], written
    assert isinstance(issued[0], IssuedCard), issued
    assert issued[0].number != taken and issued[0].number == draws[-1]
    session.expire_all()
    assert session.query(Card).filter_by(number=issued[0].number).one().kid == issued[0].kid
    assert session.query(Card).count() == 2
    assert session.query(AuditEntry).filter_by(action="card.issue").count() == 1


def test_a_second_init_city_at_the_same_time_is_refused(
    app: Flask, session: Any, deps: Any, actor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `init-city` runs on an empty database, both past the "no city yet" check before
    either commits: one city, and the other run gets the usual "already initialised" error."""
    from cardservice.models import AuditEntry, City, SigningKey, StatusListRecord
    from cardservice.services.errors import CityExistsError
    from cardservice.services.keys import init_city

    # The root key is generated right after the existence check: both runs meet there.
    monkeypatch.setattr(
        cardformat, "generate_key", _meeting(cardformat.generate_key, cardformat.generate_key)
    )

    def init(code: str) -> Callable[[Any], Any]:
        return lambda s: (
            init_city(s, deps, code=code, names={"fr": f"Ville {code}"}, now=NOW, actor=actor).code
        )

    threads = [_in_thread(app, init(code)) for code in ("FR SXB", "FR PAR")]
    for thread, _ in threads:
        thread.join()
    outcomes = [outcome[0] for _, outcome in threads]
    assert sum(isinstance(o, str) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, CityExistsError) for o in outcomes) == 1, outcomes

    session.expire_all()
    assert [c.code for c in session.query(City)] == [o for o in outcomes if isinstance(o, str)]
    assert session.query(SigningKey).count() == 1
    assert session.query(StatusListRecord).count() == 1
    assert session.query(AuditEntry).filter_by(action="city.init").count() == 1
