"""The verification service: card text in, one result code and what may be shown out.

This is the reference verdict (docs/interfaces.md): the API and the agent page's upload path
call it, and the page's offline verifier must agree with it. It reads only the in-memory trust
index: verifying never contacts the issuing city, and nothing here logs the card, its holder or
its text (docs/privacy.md, rule 3).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from threading import Lock

from cardformat import CardFormatError, VerifiedCard, card_status, statuslist, verify_card
from cardformat.token import CLOCK_SKEW

from .trust_index import LoadedPartner, TrustIndex

log = logging.getLogger(__name__)

RESULTS = (
    "valid",
    "revoked",
    "suspended",
    "expired",
    "not_yet_valid",
    "key_revoked",
    "unknown_issuer",
    "bad_signature",
    "malformed",
    "status_unknown",
    "clock_in_doubt",
)
# Every error code cardformat's verify_card can raise maps to itself; anything else is a bug in
# the mapping and is reported as malformed rather than crashing (tested).
_CARD_ERROR_RESULTS = frozenset(RESULTS) - {
    "valid",
    "revoked",
    "suspended",
    "status_unknown",
    "clock_in_doubt",
}
# The results that rest on the clock (expiry, validity start, staleness of the status list).
# When the clock is in doubt they give way to clock_in_doubt; a structural or signature
# failure, an unknown issuer, a withdrawn key and a published revocation or suspension do not
# depend on the time and are reported as they are. verify.js applies the same rule.
TIME_JUDGED = frozenset({"valid", "status_unknown", "expired", "not_yet_valid"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """A verdict and the verified facts behind it; facts are None when not established."""

    result: str
    issuer_code: str | None = None
    issuer_names: Mapping[str, str] | None = None  # the partner's own, read-only
    card_number: str | None = None
    expires_at: datetime | None = None
    holder_name: str | None = None
    birth_date: date | None = None
    status_checked_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.result == "valid"


class ResultCounters:
    """Aggregate counts per result code: the only trace a verification leaves (privacy rule 3)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = Lock()

    def add(self, result: str) -> None:
        with self._lock:
            self._counts[result] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {code: self._counts.get(code, 0) for code in RESULTS}


def clock_in_doubt(now: datetime, fetched_until: datetime | None) -> bool:
    """Whether ``now`` is earlier than a moment this verifier has already seen.

    The trust data was fetched at ``fetched_until`` by the same clock: reading an earlier time
    now means the clock went back (a reset, a wrong manual setting), and a wrong clock turns an
    expired card valid or a valid one expired. The usual skew is allowed, as for cards.
    """
    return fetched_until is not None and now + CLOCK_SKEW < fetched_until


def verify_text(
    text: str, *, index: TrustIndex, now: datetime, max_status_age: timedelta
) -> Outcome:
    """Verify a card's text against the trust index at ``now``; never raises for bad input.

    A result that rests on the clock becomes clock_in_doubt, without the card's details, when
    ``now`` is earlier than the trust store's last fetch (section "The clock" of
    docs/verifier.md).
    """
    outcome = _verify(text, index=index, now=now, max_status_age=max_status_age)
    if outcome.result in TIME_JUDGED and clock_in_doubt(now, index.fetched_until):
        return Outcome(result="clock_in_doubt")
    return outcome


def _verify(text: str, *, index: TrustIndex, now: datetime, max_status_age: timedelta) -> Outcome:
    try:
        verified = verify_card(text, resolve_key=index.resolve, now=now)
    except CardFormatError as exc:
        code = exc.code if exc.code in _CARD_ERROR_RESULTS else "malformed"
        return Outcome(result=code)
    except Exception as exc:  # defensive: bad input must end in a verdict, never a 500
        # Only the exception type: its message could quote the input.
        log.error("verify_card raised an unexpected %s; answering malformed", type(exc).__name__)
        return Outcome(result="malformed")

    partner = index.partner(verified.issuer)
    if partner is None:  # the key resolved, so this cannot happen unless the index is corrupt
        return Outcome(result="unknown_issuer")
    result, checked_at = _status(verified, partner, now=now, max_status_age=max_status_age)
    card = verified.card
    return Outcome(
        result=result,
        issuer_code=verified.issuer,
        issuer_names=partner.metadata.names,
        card_number=card.number,
        expires_at=verified.expires_at,
        holder_name=card.holder_name,
        birth_date=card.birth_date,
        status_checked_at=checked_at,
    )


def _status(
    verified: VerifiedCard, partner: LoadedPartner, *, now: datetime, max_status_age: timedelta
) -> tuple[str, datetime | None]:
    """The card's status from the partner's last verified lists (docs/card-format.md section
    6.1, cardformat.card_status), or status_unknown.

    ``status_checked_at`` is the list's issued-at time: the moment the issuer vouched for the
    status, which is what an agent needs to judge it (not when we happened to download it).
    """
    return card_status(
        verified.card.status_index,
        size=partner.metadata.status_list_size,
        lists=partner.status_lists,
        now=now,
        max_age=max_status_age,
    )


def is_stale(
    issued_at: datetime,
    expires_at: datetime | None,
    *,
    now: datetime,
    max_status_age: timedelta,
) -> bool:
    """A list is too old to rely on past the policy's age or past its own expiry."""
    return statuslist.is_stale(issued_at, expires_at, now=now, max_age=max_status_age)
