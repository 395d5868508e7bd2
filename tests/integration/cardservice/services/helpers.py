"""Helpers of the service tests: a card's bit in its status list, a key resolver over the city's
keys.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import cardformat
from cardservice.models import Card, StatusListRecord
from cardservice.services import keys


def status_of(session: Any, card_number: str) -> int:
    card = session.scalars(select(Card).where(Card.number == card_number)).one()
    size = session.scalar(select(StatusListRecord.size).limit(1))
    record = session.get(StatusListRecord, card.status_index // size)
    return cardformat.StatusList.from_lst(record.lst, bits=2).get(card.status_index % size)


def resolver(session: Any) -> Any:
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
