"""Card and resident look-ups made with an API token: each one audited, hit or miss.

A program holding a token could otherwise walk card numbers unseen (issue #13: 150 guesses a
second, each hit leading to the full record). Every look-up leaves an audit entry naming the
token; a miss is recorded without the number it tried (a guessed number says nothing about
anyone, but one that existed and was erased would). The per-token rate limit (tokenlimit.py)
bounds how fast such entries can pile up.

A card the token may not see answers exactly as a card that does not exist: the card of an
erased resident is kept only for the public status list, and the API must not even confirm that
the number was ever issued.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import lazy_gettext as _l

from ..models import Card
from . import audit
from ._types import DbSession
from .audit import Actor
from .cards import get_card
from .context import Deps
from .errors import NotFoundError
from .residents import ResidentView, view_resident

_NO_CARD = _l("No card has this number.")
log = logging.getLogger("cardservice.audit")


def _miss(session: DbSession, *, now: datetime, actor: Actor, action: str) -> None:
    session.rollback()
    try:
        audit.record(session, now=now, actor=actor, action=action, detail="not_found")
        session.commit()
    except Exception as exc:  # the answer shows nothing either way: still the same 404
        session.rollback()
        log.warning("a look-up miss could not be audited: %s", type(exc).__name__)


def look_up_card(session: DbSession, number: object, *, now: datetime, actor: Actor) -> Card:
    """The card, audited as "card.view"; NotFoundError (the same one) for a number that is
    malformed, unknown, or the card of an erased resident, audited as "card.lookup_miss"."""
    try:
        card = get_card(session, number)
        if card.resident_id is None:
            raise NotFoundError(_NO_CARD)
    except NotFoundError:
        _miss(session, now=now, actor=actor, action="card.lookup_miss")
        raise NotFoundError(_NO_CARD) from None
    audit.record(session, now=now, actor=actor, action="card.view", card_number=card.number)
    session.commit()
    return card


def look_up_resident(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime, actor: Actor
) -> ResidentView:
    """view_resident() ("resident.view" on a hit), and "resident.lookup_miss" on a miss."""
    try:
        return view_resident(session, deps, resident_id, now=now, actor=actor)
    except NotFoundError:
        _miss(session, now=now, actor=actor, action="resident.lookup_miss")
        raise
