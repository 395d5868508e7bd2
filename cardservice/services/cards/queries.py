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


def has_live_card(session: DbSession, resident_id: str, now: datetime) -> bool:
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
