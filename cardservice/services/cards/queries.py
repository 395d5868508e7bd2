"""Looking cards up: by number, and the lists other steps work from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

import cardformat

from ...models import Card
from .._types import DbSession
from ..errors import NotFoundError
from ..locking import lock


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


def display_status(card: Card, now: datetime) -> str:
    """What a card's status reads as, to staff and to API clients alike: a valid card past its
    expiry is "expired" (the stored status stays "valid": expiry needs no status-list change,
    verifiers read the expiry from the token itself)."""
    if card.status == "valid" and card.expires_at <= now:
        return "expired"
    return str(card.status)


def is_live(card: Card, now: datetime) -> bool:
    """A live card blocks a new issue (renew or replace it instead): not revoked, not expired.
    The same condition as has_live_card's query, for a card already loaded."""
    return card.status != "revoked" and card.expires_at > now


def has_live_card(session: DbSession, resident_id: str, now: datetime) -> bool:
    """Whether a resident holds a live card (see is_live): the one-live-card rule of issue."""
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


def cards_to_reissue(session: DbSession, kid: str, *, now: datetime) -> list[str]:
    """Numbers of the cards a revoked signing key leaves to reprint, in number order.

    Every card whose printed token that key signed fails as key_revoked at every partner after
    its next sync. Revoked and expired cards need nothing: they fail anyway, so reprinting them
    would hand out a card that is no longer meant to work.
    """
    return list(
        session.scalars(
            select(Card.number)
            .where(Card.kid == kid, Card.status != "revoked", Card.expires_at > now)
            .order_by(Card.number)
        )
    )


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
