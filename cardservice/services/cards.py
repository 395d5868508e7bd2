"""Cards: issue, print and reprint, renew, replace, suspend, reinstate, revoke, look up.

Every status change updates the card row, its bit in the status list and the audit log in one
transaction, so what the city publishes never disagrees with its records.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

import cardformat
from cardformat import Status, StatusList

from ..models import Card, City, SigningKey, StatusListRecord
from . import audit, cardrules
from ._types import DbSession
from .audit import Actor
from .citystyle import card_title
from .context import Deps
from .errors import ConflictError, NotFoundError, ValidationError
from .keys import _new_status_list, active_signing_key, get_city, locked_city, rotate_if_due
from .locking import lock
from .residents import WrappedKey, data_keys, open_record
from .residents import _load as load_resident

if TYPE_CHECKING:
    from ..printing import PrintableCard

#: Machine codes of revocation reasons (the UI translates them).
REVOKE_REASONS = (
    "lost",
    "stolen",
    "damaged",
    "holder_request",
    "deceased",
    "fraud",
    "superseded",
    "key_compromise",
    "other",
)
SUSPEND_REASONS = ("investigation", "holder_request", "found_after_loss", "other")
REPLACE_REASONS = ("lost", "stolen", "damaged")

# A list stops taking new cards once half full: random indices in a mostly empty list keep
# allocation cheap and keep every card hidden in a crowd of at least size/2 siblings.
_LIST_FILL_LIMIT = 0.5


@dataclass(frozen=True, kw_only=True)
class IssuedCard:
    number: str
    expires_at: datetime
    issued_at: datetime
    qr: str  # the signed token, "MC1:..."
    kid: str


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February -> 28 February
        return moment.replace(year=moment.year + years, day=28)


def _normalise_number(number: Any) -> str:
    if not isinstance(number, str) or len(number) > 20:
        raise NotFoundError(_l("No card has this number."))
    try:
        return cardformat.normalize_card_number(number)
    except cardformat.MalformedError:
        raise NotFoundError(_l("No card has this number.")) from None


def get_card(session: DbSession, number: Any, *, for_update: bool = False) -> Card:
    """Look a card up by its number (typos the check character catches are a 404 too)."""
    query = select(Card).where(Card.number == _normalise_number(number))
    if for_update:
        query = lock(query)
    card = session.scalars(query).first()
    if card is None:
        raise NotFoundError(_l("No card has this number."))
    return card


def _latest_list(session: DbSession) -> StatusListRecord | None:
    """The newest status list, locked. The lock is taken on a row chosen before waiting for
    it: if another issuer added a list meanwhile, the locked one is no longer the newest and
    the choice is made again (otherwise both would create the same next list)."""
    for _ in range(10):
        current = session.scalars(
            lock(select(StatusListRecord).order_by(StatusListRecord.id.desc()).limit(1))
        ).first()
        newest = session.scalar(select(func.max(StatusListRecord.id)))
        if current is None or newest == current.id:
            return current
    raise ConflictError(_l("Could not allocate a card number; try again."))


def _allocate_status_index(session: DbSession, deps: Deps, now: datetime) -> int:
    current = _latest_list(session)
    if current is None or current.allocated >= current.size * _LIST_FILL_LIMIT:
        new_id = 0 if current is None else current.id + 1
        # Every list has the size of the first: index i lives in list i // size, so the size is
        # fixed once cards exist, whatever the policy file says later.
        size = deps.policy.status_list_size if current is None else current.size
        current = _new_status_list(new_id, size, now)
        session.add(current)
        # A new list must appear in the signed metadata.
        locked_city(session).metadata_document = None
        session.flush()
    base = current.id * current.size

    def taken(i: int) -> bool:
        return bool(session.scalar(select(exists().where(Card.status_index == base + i))))

    position = cardformat.allocate_index(current.size, taken)
    current.allocated += 1
    return base + position


def _new_number(session: DbSession) -> str:
    # 30 bits of randomness: a collision is rare, but a unique number is a promise, so check.
    for _ in range(20):
        number = cardformat.generate_card_number()
        if not session.scalar(select(exists().where(Card.number == number))):
            return number
    raise ConflictError(_l("Could not allocate a card number; try again."))


# Draws of a number whose INSERT lost to a concurrent issuer before giving up with a conflict.
_INSERT_ATTEMPTS = 5


def _insert_card(session: DbSession, card: Card) -> None:
    """INSERT `card` under a number drawn free. The check in _new_number does not hold the
    number: another issuer may draw the same free number and commit it first (the unique
    constraint then refused the second commit, a 500). So the row is written under a SAVEPOINT,
    and when the number turns out taken the savepoint is rolled back and another is drawn.

    The status index needs no such retry: it is chosen with the newest status list locked
    (_latest_list), so issuers choose indices one at a time and each sees the previous one's."""
    # Everything else pending is written first, so a rolled-back savepoint undoes only the card.
    session.flush()
    for _ in range(_INSERT_ATTEMPTS):
        card.number = _new_number(session)
        try:
            with session.begin_nested():
                session.add(card)
        except IntegrityError:
            # Only the number's race is retried: any other violation is a bug, and surfaces.
            if not session.scalar(select(exists().where(Card.number == card.number))):
                raise
            continue
        return
    raise ConflictError(_l("Could not allocate a card number; try again."))


@dataclass(frozen=True)
class _Signer:
    """The city and its active signing key, loaded once for a run of signatures (a batch)."""

    city: City
    key_record: SigningKey
    key: Ed25519PrivateKey

    @classmethod
    def load(cls, session: DbSession, deps: Deps, now: datetime) -> _Signer:
        key_record, key = active_signing_key(session, deps, now=now)
        return cls(get_city(session), key_record, key)


def _sign(
    session: DbSession,
    deps: Deps,
    card: Card,
    *,
    holder_name: str,
    birth_date: date | None,
    now: datetime,
    signer: _Signer | None = None,
) -> str:
    if signer is None:
        signer = _Signer.load(session, deps, now)
    city, key_record, key = signer.city, signer.key_record, signer.key
    # A signer loaded once for a batch signs every card at the batch's `now`, checked at load.
    token = cardformat.sign_card(
        cardformat.Card(
            number=card.number,
            holder_name=holder_name,
            birth_date=birth_date if deps.policy.birth_date_on_card else None,
            status_index=card.status_index,
        ),
        issuer=city.code,
        signing_key=key,
        now=now,
        expires_at=card.expires_at,
    )
    card.kid = key_record.kid
    return token


def _has_live_card(session: DbSession, resident_id: str, now: datetime) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    Card.resident_id == resident_id,
                    Card.status != "revoked",
                    Card.expires_at > now,
                )
            )
        )
    )


def _issue(session: DbSession, deps: Deps, resident_id: str, *, now: datetime) -> tuple[Card, str]:
    resident = load_resident(session, resident_id)
    record = open_record(session, deps, resident)
    card = Card(
        resident_id=resident.id,
        status_index=_allocate_status_index(session, deps, now),
        issued_at=now,
        expires_at=_add_years(now, deps.policy.validity_years),
        status="valid",
        kid="",
    )
    _insert_card(session, card)
    token = _sign(
        session, deps, card, holder_name=record.display_name, birth_date=record.birth_date, now=now
    )
    return card, token


def _issued(card: Card, token: str) -> IssuedCard:
    return IssuedCard(
        number=card.number,
        expires_at=card.expires_at,
        issued_at=card.issued_at,
        qr=token,
        kid=card.kid,
    )


def issue_card(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime, actor: Actor
) -> IssuedCard:
    """A new card for a resident who has no live card (use renew or replace otherwise)."""
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    # The row lock makes a double click at the counter issue one card, not two.
    resident = load_resident(session, resident_id, for_update=True)
    if _has_live_card(session, resident.id, now):
        raise ConflictError(
            _l("This resident already has a valid card: renew or replace it instead."),
            code="card_exists",
        )
    card, token = _issue(session, deps, resident.id, now=now)
    audit.record(
        session,
        now=now,
        actor=actor,
        action="card.issue",
        card_number=card.number,
        subject=f"resident:{resident.id}",
    )
    session.commit()
    return _issued(card, token)


def _printable(
    session: DbSession,
    deps: Deps,
    card: Card,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    signer: _Signer | None = None,
    key: WrappedKey | None = None,
) -> PrintableCard:
    """Sign a fresh token and assemble the printer's input; the caller commits. `key`: the
    holder's wrapped data key when the caller read it already (batch printing)."""
    from ..printing import InvalidCardError, PrintableCard

    cardrules.check("print", card, now=now, rules=cardrules.Rules.of(deps.policy))
    assert card.resident_id is not None
    resident = (
        card.resident if card.resident is not None else load_resident(session, card.resident_id)
    )
    record = open_record(session, deps, resident, key)
    if signer is None:
        signer = _Signer.load(session, deps, now)
    token = _sign(
        session,
        deps,
        card,
        holder_name=record.display_name,
        birth_date=record.birth_date,
        now=now,
        signer=signer,
    )
    card.last_printed_at = now
    audit.record(session, now=now, actor=actor, action=action, card_number=card.number)
    city = signer.city
    try:
        return PrintableCard(
            city_name=city.name_in(record.preferred_language),
            holder_name=record.display_name,
            birth_date=record.birth_date if deps.policy.birth_date_on_card else None,
            gender_marker=record.gender_marker,
            number=card.number,
            expires=card.expires_at.date(),
            photo=record.photo,
            qr_text=token,
            issuer_code=city.code,
            card_title=card_title(city, deps.card_title),
        )
    except InvalidCardError:
        raise ConflictError(
            _l("This card cannot be printed: correct the holder's data first."),
            code="not_printable",
        ) from None


def print_card(
    session: DbSession,
    deps: Deps,
    number: Any,
    *,
    now: datetime,
    actor: Actor,
    reprint: bool = False,
) -> PrintableCard:
    """Everything the printer needs, with a freshly signed token (same number and expiry).

    Signing again means a reprint after a key rotation or compromise carries the current key.
    """
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    card = get_card(session, number, for_update=True)
    printable = _printable(
        session,
        deps,
        card,
        now=now,
        actor=actor,
        action="card.reprint" if reprint else "card.print",
    )
    session.commit()
    return printable


def _chunks(items: Iterable[str], size: int) -> Iterator[tuple[str, ...]]:
    iterator = iter(items)
    while chunk := tuple(itertools.islice(iterator, size)):
        yield chunk


def print_batch(
    session: DbSession,
    deps: Deps,
    numbers: Iterable[str],
    *,
    now: datetime,
    actor: Actor,
    commit_every: int = 250,
) -> Iterator[PrintableCard]:
    """Printable cards for a batch, lazily: one chunk of rows in memory at a time.

    Cards that can no longer be printed (revoked or erased since the list was made) are skipped.
    Each chunk is loaded with its residents and their data keys in three queries and signed with
    a key loaded once; print marks and audit entries are committed per chunk, and the rows are
    released after, so the session does not grow with the batch.
    """
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    signer: _Signer | None = None
    for chunk in _chunks(numbers, commit_every):
        # Locked in one order (by number), so two batches sharing cards cannot deadlock; a card
        # revoked meanwhile is seen as revoked and skipped.
        rows = session.scalars(
            lock(select(Card).where(Card.number.in_(chunk)).order_by(Card.number)).options(
                selectinload(Card.resident)
            )
        ).all()
        # The chunk's data keys in one key-store statement, not one per card.
        keys = data_keys(session, [c.resident_id for c in rows if c.resident_id])
        by_number = {card.number: card for card in rows}
        if signer is None:
            signer = _Signer.load(session, deps, now)
        for number in chunk:
            card = by_number.get(number)
            if card is None:
                continue
            try:
                printable = _printable(
                    session,
                    deps,
                    card,
                    now=now,
                    actor=actor,
                    action="card.print",
                    signer=signer,
                    key=keys.get(card.resident_id or ""),
                )
            except (ConflictError, NotFoundError):
                continue  # erased since the list was made (NotFoundError: key already gone)
            yield printable
        session.commit()
        session.expunge_all()
        signer = None  # reload after expunge: the city row must belong to the session again


def renew_card(
    session: DbSession, deps: Deps, number: Any, *, now: datetime, actor: Actor
) -> IssuedCard:
    """Extend a card by the policy's validity, from today; same number, new token."""
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    card = get_card(session, number, for_update=True)
    cardrules.check("renew", card, now=now, rules=cardrules.Rules.of(deps.policy))
    assert card.resident_id is not None
    record = open_record(session, deps, load_resident(session, card.resident_id))
    card.expires_at = _add_years(now, deps.policy.validity_years)
    token = _sign(
        session, deps, card, holder_name=record.display_name, birth_date=record.birth_date, now=now
    )
    audit.record(session, now=now, actor=actor, action="card.renew", card_number=card.number)
    session.commit()
    return _issued(card, token)


def _set_status(session: DbSession, card: Card, status: Status, now: datetime) -> None:
    list_id, position = divmod(card.status_index, _list_size(session, card.status_index))
    record = session.scalars(
        lock(select(StatusListRecord).where(StatusListRecord.id == list_id))
    ).one()
    statuses = StatusList.from_lst(record.lst, bits=record.bits)
    statuses.set(position, int(status))
    record.lst = statuses.encode_lst()
    record.updated_at = now
    record.token = None  # re-signed on the next fetch


def _list_size(session: DbSession, index: int) -> int:
    size = session.scalar(select(StatusListRecord.size).limit(1))
    if size is None:
        raise NotFoundError(_l("No status list exists."))
    return int(size)


def revoke_in_transaction(
    session: DbSession, card: Card, *, reason: str, now: datetime, actor: Actor
) -> None:
    """Revoke without committing (for callers that revoke as part of a larger change)."""
    card.status = "revoked"
    card.status_reason = reason
    card.status_changed_at = now
    _set_status(session, card, Status.REVOKED, now)
    audit.record(
        session, now=now, actor=actor, action="card.revoke", card_number=card.number, detail=reason
    )


def _check_reason(reason: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(reason, str) or reason not in allowed:
        raise ValidationError({"reason": _l("Choose one of the listed reasons.")})
    return reason


def revoke_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> Card:
    """Revoke for good (a revoked card is never reinstated). A reason code is required."""
    reason = _check_reason(reason, REVOKE_REASONS)
    card = get_card(session, number, for_update=True)
    cardrules.check("revoke", card, now=now, rules=cardrules.Rules.of(deps.policy))
    revoke_in_transaction(session, card, reason=reason, now=now, actor=actor)
    session.commit()
    return card


def suspend_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> Card:
    reason = _check_reason(reason, SUSPEND_REASONS)
    card = get_card(session, number, for_update=True)
    cardrules.check("suspend", card, now=now, rules=cardrules.Rules.of(deps.policy))
    card.status = "suspended"
    card.status_reason = reason
    card.status_changed_at = now
    _set_status(session, card, Status.SUSPENDED, now)
    audit.record(
        session,
        now=now,
        actor=actor,
        action="card.suspend",
        card_number=card.number,
        detail=reason,
    )
    session.commit()
    return card


def reinstate_card(
    session: DbSession, deps: Deps, number: Any, *, now: datetime, actor: Actor
) -> Card:
    card = get_card(session, number, for_update=True)
    cardrules.check("reinstate", card, now=now, rules=cardrules.Rules.of(deps.policy))
    card.status = "valid"
    card.status_reason = None
    card.status_changed_at = now
    _set_status(session, card, Status.VALID, now)
    audit.record(session, now=now, actor=actor, action="card.reinstate", card_number=card.number)
    session.commit()
    return card


def replace_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> IssuedCard:
    """Lost, stolen or damaged: the old card is revoked and a new one (new number) issued."""
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    reason = _check_reason(reason, REPLACE_REASONS)
    old = get_card(session, number, for_update=True)
    cardrules.check("replace", old, now=now, rules=cardrules.Rules.of(deps.policy))
    assert old.resident_id is not None
    resident_id = old.resident_id
    # Locks in the app's order (services.locking): the old card's list, then the newest list
    # (the new card's, taken by the allocation), then the audit head through the revocation.
    old_list = old.status_index // _list_size(session, old.status_index)
    session.scalars(lock(select(StatusListRecord.id).where(StatusListRecord.id == old_list))).all()
    card, token = _issue(session, deps, resident_id, now=now)
    revoke_in_transaction(session, old, reason=reason, now=now, actor=actor)
    audit.record(
        session,
        now=now,
        actor=actor,
        action="card.replace",
        card_number=card.number,
        subject=f"card:{old.number}",
        detail=reason,
    )
    session.commit()
    return _issued(card, token)


def cards_issued_since(session: DbSession, since: datetime, *, now: datetime) -> list[str]:
    """Numbers of printable cards issued since a moment (for batch printing), oldest first."""
    return list(
        session.scalars(
            select(Card.number)
            .where(
                Card.issued_at >= since,
                Card.status == "valid",
                Card.resident_id.is_not(None),
                Card.expires_at > now,
            )
            .order_by(Card.issued_at, Card.id)
        )
    )
