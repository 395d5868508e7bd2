"""Printing cards, one or in batches: a freshly signed token and the printer's input."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...models import Card
from .. import audit, cardrules
from .._types import DbSession
from ..audit import Actor
from ..citystyle import card_title
from ..context import Deps
from ..errors import ConflictError, NotFoundError
from ..keys import rotate_if_due
from ..locking import lock
from ..residents.datakeys import WrappedKey, data_keys, open_record
from ..residents.records import load_resident

if TYPE_CHECKING:
    from ...printing import PrintableCard

from .issuance import Signer, sign_card_token
from .queries import get_card


def _printable(
    session: DbSession,
    deps: Deps,
    card: Card,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    signer: Signer | None = None,
    key: WrappedKey | None = None,
) -> PrintableCard:
    """Sign a fresh token and assemble the printer's input; the caller commits. `key`: the
    holder's wrapped data key when the caller read it already (batch printing)."""
    from ...printing import InvalidCardError, PrintableCard

    cardrules.check("print", card, now=now, rules=cardrules.Rules.of(deps.policy))
    assert card.resident_id is not None
    resident = (
        card.resident if card.resident is not None else load_resident(session, card.resident_id)
    )
    record = open_record(session, deps, resident, key)
    if signer is None:
        signer = Signer.load(session, deps, now)
    token = sign_card_token(
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


class PrintOptions(TypedDict):
    """print_card's keywords, for a caller that passes them on (services.cardprinter)."""

    now: datetime
    actor: Actor
    reprint: NotRequired[bool]


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
    signer: Signer | None = None
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
            signer = Signer.load(session, deps, now)
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
