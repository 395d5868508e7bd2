"""Issuing a card: a new row with its number and index, signed with the city's active key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_babel import lazy_gettext as _l

import cardformat

from ...models import Card, City, SigningKey
from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..errors import ConflictError
from ..keys import active_signing_key, get_city, rotate_if_due
from ..residents.datakeys import open_record
from ..residents.records import load_resident
from .allocation import allocate_status_index, insert_card
from .queries import has_live_card


@dataclass(frozen=True, kw_only=True)
class IssuedCard:
    number: str
    expires_at: datetime
    issued_at: datetime
    qr: str  # the signed token, "MC1:..."
    kid: str


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February -> 28 February
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class Signer:
    """The city and its active signing key, loaded once for a run of signatures (a batch)."""

    city: City
    key_record: SigningKey
    key: Ed25519PrivateKey

    @classmethod
    def load(cls, session: DbSession, deps: Deps, now: datetime) -> Signer:
        key_record, key = active_signing_key(session, deps, now=now)
        return cls(get_city(session), key_record, key)


def sign_card_token(
    session: DbSession,
    deps: Deps,
    card: Card,
    *,
    holder_name: str,
    birth_date: date | None,
    now: datetime,
    signer: Signer | None = None,
) -> str:
    if signer is None:
        signer = Signer.load(session, deps, now)
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


def new_card(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime
) -> tuple[Card, str]:
    resident = load_resident(session, resident_id)
    record = open_record(session, deps, resident)
    card = Card(
        resident_id=resident.id,
        status_index=allocate_status_index(session, deps, now),
        issued_at=now,
        expires_at=add_years(now, deps.policy.validity_years),
        status="valid",
        kid="",
    )
    insert_card(session, card)
    token = sign_card_token(
        session, deps, card, holder_name=record.display_name, birth_date=record.birth_date, now=now
    )
    return card, token


def issued_card(card: Card, token: str) -> IssuedCard:
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
    if has_live_card(session, resident.id, now):
        raise ConflictError(
            _l("This resident already has a valid card: renew or replace it instead."),
            code="card_exists",
        )
    card, token = new_card(session, deps, resident.id, now=now)
    holder = f"resident:{resident.id}"
    audit.record(
        session, now=now, actor=actor, action="card.issue", card_number=card.number, subject=holder
    )
    session.commit()
    return issued_card(card, token)
