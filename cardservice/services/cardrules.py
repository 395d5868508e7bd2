"""Which lifecycle actions a card allows now: the rules, once.

The card services (services.cards) check an action with `check()` before doing it, and the
counter shows only the actions `possible_actions()` lists, so a clerk never sees a button that
answers with an error ("Renew" on a brand-new card), and the page and the service cannot drift
apart. Each refusal is a ConflictError with a stable code, the same the API answers with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flask_babel import lazy_gettext as _l

from .errors import ConflictError

#: The actions on one card, in the order the counter offers them.
ACTIONS = ("print", "renew", "replace", "suspend", "reinstate", "revoke")

# The one table of the status changes a card allows: (from, to) -> its audit action. Expiry is
# not a status (see cards.display_status), and a revoked card never changes again.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("valid", "suspended"): "card.suspend",
    ("suspended", "valid"): "card.reinstate",
    ("valid", "revoked"): "card.revoke",
    ("suspended", "revoked"): "card.revoke",
}
# Why a change to this status is refused when the table does not allow it from the current one.
_REFUSALS: dict[str, tuple[Any, str]] = {
    "suspended": (_l("Only a valid card can be suspended."), "card_not_valid"),
    "valid": (_l("Only a suspended card can be reinstated."), "card_not_suspended"),
    "revoked": (_l("This card is already revoked."), "card_revoked"),
}
# The status each status-changing action moves a card to (a replacement revokes the old card).
_TARGETS = {"suspend": "suspended", "reinstate": "valid", "revoke": "revoked", "replace": "revoked"}


class CardLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def resident_id(self) -> str | None: ...


@dataclass(frozen=True)
class Rules:
    """The policy figures the rules need (services.policy.Policy has them)."""

    renewal_window_days: int

    @classmethod
    def of(cls, policy: Any) -> Rules:
        return cls(renewal_window_days=int(policy.renewal_window_days))


def is_live(card: CardLike, now: datetime) -> bool:
    """A card that counts as the holder's current card: not revoked and not expired."""
    return card.status != "revoked" and card.expires_at > now


def has_live_card(cards: Iterable[CardLike], now: datetime) -> bool:
    """A resident gets a new card (issue) only without a live one: replace or renew instead."""
    return any(is_live(card, now) for card in cards)


def renewal_opens(card: CardLike, rules: Rules) -> datetime:
    """The moment a card enters its renewal window."""
    return card.expires_at - timedelta(days=rules.renewal_window_days)


def _erased(action: str) -> ConflictError:
    messages = {
        "print": _l("The holder's data was erased: this card cannot be printed again."),
        "renew": _l("The holder's data was erased: this card cannot be renewed."),
        "replace": _l("The holder's data was erased: this card cannot be replaced."),
    }
    return ConflictError(messages[action], code="resident_erased")


def refusal(action: str, card: CardLike, *, now: datetime, rules: Rules) -> ConflictError | None:
    """Why `action` is refused for `card` now, or None when it is allowed."""
    if action not in ACTIONS:
        raise ValueError(f"unknown card action {action!r}")
    if action in ("print", "renew", "replace") and card.resident_id is None:
        return _erased(action)
    if action == "print":
        if card.status == "revoked":
            return ConflictError(_l("This card is revoked."), code="card_revoked")
        if card.status == "suspended":
            return ConflictError(_l("This card is suspended."), code="card_suspended")
        if card.expires_at <= now:
            return ConflictError(_l("This card has expired: renew it."), code="card_expired")
        return None
    if action == "renew":
        if card.status != "valid":
            return ConflictError(_l("Only a valid card can be renewed."), code="card_not_valid")
        opens = renewal_opens(card, rules)
        if now < opens:
            return ConflictError(
                _l("This card can be renewed from %(day)s.", day=opens.date().isoformat()),
                code="renewal_too_early",
                renewable_from=opens.date().isoformat(),
            )
        return None
    return transition_refusal(card.status, _TARGETS[action])


def transition_refusal(status: str, to: str) -> ConflictError | None:
    """Why TRANSITIONS refuses a change from `status` to `to`, or None when it allows it."""
    if (status, to) in TRANSITIONS:
        return None
    message, code = _REFUSALS[to]
    return ConflictError(message, code=code)


def target(action: str) -> str:
    """The status a status-changing action moves a card to."""
    return _TARGETS[action]


def check(action: str, card: CardLike, *, now: datetime, rules: Rules) -> None:
    """Raise the refusal of `action`, if any."""
    refused = refusal(action, card, now=now, rules=rules)
    if refused is not None:
        raise refused


def possible_actions(card: CardLike, *, now: datetime, rules: Rules) -> tuple[str, ...]:
    """The actions `card` allows now, in ACTIONS order."""
    return tuple(a for a in ACTIONS if refusal(a, card, now=now, rules=rules) is None)


def renewable_from(card: CardLike, *, now: datetime, rules: Rules) -> datetime | None:
    """When a valid card that cannot be renewed yet becomes renewable (None otherwise): the
    counter says so instead of offering a button that would be refused."""
    refused = refusal("renew", card, now=now, rules=rules)
    if refused is not None and refused.code == "renewal_too_early":
        return renewal_opens(card, rules)
    return None
