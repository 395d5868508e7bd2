"""Changes to an issued card: renew, revoke, suspend, reinstate, replace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from ...models import Card, StatusListRecord
from .. import audit, cardrules
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..keys import rotate_if_due
from ..locking import lock
from ..residents.datakeys import open_record
from ..residents.records import load_resident
from .issuance import IssuedCard, add_years, issued_card, new_card, sign_card_token
from .queries import get_card
from .status import (
    REPLACE_REASONS,
    REVOKE_REASONS,
    SUSPEND_REASONS,
    change_status,
    check_reason,
    list_size,
    revoke_in_transaction,
)


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
    card.expires_at = add_years(now, deps.policy.validity_years)
    token = sign_card_token(
        session, deps, card, holder_name=record.display_name, birth_date=record.birth_date, now=now
    )
    audit.record(session, now=now, actor=actor, action="card.renew", card_number=card.number)
    session.commit()
    return issued_card(card, token)


def revoke_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> Card:
    """Revoke for good (a revoked card is never reinstated). A reason code is required."""
    reason = check_reason(reason, REVOKE_REASONS)
    return _change(session, deps, number, "revoke", reason=reason, now=now, actor=actor)


def suspend_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> Card:
    reason = check_reason(reason, SUSPEND_REASONS)
    return _change(session, deps, number, "suspend", reason=reason, now=now, actor=actor)


def reinstate_card(
    session: DbSession, deps: Deps, number: Any, *, now: datetime, actor: Actor
) -> Card:
    return _change(session, deps, number, "reinstate", reason=None, now=now, actor=actor)


def _change(
    session: DbSession,
    deps: Deps,
    number: Any,
    action: str,
    *,
    reason: str | None,
    now: datetime,
    actor: Actor,
) -> Card:
    """One lifecycle action that changes a card's status (cardrules), in its own transaction."""
    card = get_card(session, number, for_update=True)
    cardrules.check(action, card, now=now, rules=cardrules.Rules.of(deps.policy))
    change_status(session, card, cardrules.target(action), reason=reason, now=now, actor=actor)
    session.commit()
    return card


def replace_card(
    session: DbSession, deps: Deps, number: Any, *, reason: Any, now: datetime, actor: Actor
) -> IssuedCard:
    """Lost, stolen or damaged: the old card is revoked and a new one (new number) issued."""
    # Before any lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    reason = check_reason(reason, REPLACE_REASONS)
    old = get_card(session, number, for_update=True)
    cardrules.check("replace", old, now=now, rules=cardrules.Rules.of(deps.policy))
    assert old.resident_id is not None  # cardrules refuses a replacement once data is erased
    resident_id = old.resident_id
    # Locks in the app's order (services.locking): the old card's list, then the newest list
    # (the new card's, taken by the allocation), then the audit head through the revocation.
    old_list = old.status_index // list_size(session, old.status_index)
    session.scalars(lock(select(StatusListRecord.id).where(StatusListRecord.id == old_list))).all()
    card, token = new_card(session, deps, resident_id, now=now)
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
    return issued_card(card, token)
