"""Cards: issue, print and reprint, renew, replace, suspend, reinstate, revoke, look up.

Every status change updates the card row, its bit in the status list and the audit log in one
transaction, so what the city publishes never disagrees with its records.

Modules: queries (look-ups), allocation (number and status index), issuance (a new signed
card), status (the status list and reason codes), lifecycle (changes to an issued card),
printing (the printer's input, one card or a batch).
"""

from __future__ import annotations

from ..cardrules import is_live
from .issuance import IssuedCard, issue_card
from .lifecycle import reinstate_card, renew_card, replace_card, revoke_card, suspend_card
from .printing import PrintOptions, print_batch, print_card
from .queries import (
    cards_issued_since,
    cards_to_reissue,
    display_status,
    get_card,
    has_live_card,
)
from .status import REPLACE_REASONS, REVOKE_REASONS, SUSPEND_REASONS, revoke_in_transaction

__all__ = [
    "REPLACE_REASONS",
    "REVOKE_REASONS",
    "SUSPEND_REASONS",
    "IssuedCard",
    "PrintOptions",
    "cards_issued_since",
    "cards_to_reissue",
    "display_status",
    "get_card",
    "has_live_card",
    "is_live",
    "issue_card",
    "print_batch",
    "print_card",
    "reinstate_card",
    "renew_card",
    "replace_card",
    "revoke_card",
    "revoke_in_transaction",
    "suspend_card",
]
