"""Are the published status lists what the database says? (`cardservice status check`, /healthz)

What a partner's verifier trusts is the signed token the publication endpoint serves, cached in
the status list's row until a change clears it. A token that disagrees with the cards is the
worst failure this service can have (a revoked card answered as valid), so it is checked two
ways:

- `check_tokens` (cheap, the health endpoint): each cached token against its own list's
  row. One read of the status-list rows and one of the signing keys, whatever the number of
  cards: a few milliseconds per list of 131,072 entries (docs/operations.md).
- `check_status_lists` (thorough, the command): also every list against the cards' statuses,
  reading every card that is not valid.

Results name list ids, counts and status indices only: never a card number or a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

import cardformat
from cardformat import KeyState, Status, StatusList, TrustedKey

from ..models import Card, City, SigningKey, StatusListRecord
from ._types import DbSession

_STATUS_OF = {"valid": Status.VALID, "revoked": Status.REVOKED, "suspended": Status.SUSPENDED}


@dataclass(frozen=True)
class ListCheck:
    list_id: int
    #: A signed token is cached (served as is until it is cleared or half its lifetime passes).
    published: bool
    #: The cached token cannot be read or verified with the city's keys (None: it can).
    token_problem: str | None = None
    #: Global status indices where the cached token differs from the truth.
    token_differences: tuple[int, ...] = ()
    #: Global status indices where the list's row differs from the cards (thorough check only).
    list_differences: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return (
            self.token_problem is None and not self.token_differences and not self.list_differences
        )


@dataclass(frozen=True)
class StatusCheck:
    lists: list[ListCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.lists)

    @property
    def mismatched(self) -> list[int]:
        return [check.list_id for check in self.lists if not check.ok]


def _differences(a: StatusList, b: StatusList, base: int) -> tuple[int, ...]:
    """Global indices where two lists of the same size disagree (byte compare first: fast)."""
    if a.size != b.size or a.bits != b.bits:
        return tuple(range(base, base + max(a.size, b.size)))
    raw_a, raw_b = a.to_bytes(), b.to_bytes()
    if raw_a == raw_b:
        return ()
    per_byte = 8 // a.bits
    found = []
    for byte, (x, y) in enumerate(zip(raw_a, raw_b, strict=True)):
        if x != y:
            for position in range(byte * per_byte, (byte + 1) * per_byte):
                if a.get(position) != b.get(position):
                    found.append(base + position)
    return tuple(found)


def _resolver(session: DbSession) -> cardformat.KeyResolver:
    city = session.scalars(select(City).limit(1)).first()
    keys: dict[bytes, TrustedKey] = {}
    if city is not None:
        for key in session.scalars(select(SigningKey)):
            kid = bytes.fromhex(key.kid)
            keys[kid] = TrustedKey(
                kid=kid,
                public_key=cardformat.load_public_key(key.public_key),
                issuer=city.code,
                state=KeyState(key.state),
            )
    return keys.get


def _token_list(
    record: StatusListRecord, resolve: cardformat.KeyResolver
) -> tuple[StatusList | None, str | None]:
    assert record.token is not None and record.token_issued_at is not None
    try:
        verified = cardformat.verify_status_list(
            record.token, resolve_key=resolve, now=record.token_issued_at
        )
    except cardformat.CardFormatError as exc:
        return None, type(exc).__name__
    return verified.status_list, None


def _cards_list(session: DbSession, record: StatusListRecord) -> StatusList:
    """The list as the cards' statuses say it should be: only cards not valid are read."""
    base = record.id * record.size
    expected = StatusList(record.size, record.bits)
    rows = session.execute(
        select(Card.status_index, Card.status).where(
            Card.status != "valid",
            Card.status_index >= base,
            Card.status_index < base + record.size,
        )
    )
    for index, status in rows:
        expected.set(index - base, int(_STATUS_OF[status]))
    return expected


def _check(session: DbSession, records: Iterable[StatusListRecord], *, cards: bool) -> StatusCheck:
    resolve = _resolver(session)
    result = StatusCheck()
    for record in records:
        base = record.id * record.size
        stored = StatusList.from_lst(record.lst, bits=record.bits)
        truth = _cards_list(session, record) if cards else stored
        list_differences = _differences(stored, truth, base) if cards else ()
        if record.token is None:
            result.lists.append(ListCheck(record.id, False, list_differences=list_differences))
            continue
        published, problem = _token_list(record, resolve)
        result.lists.append(
            ListCheck(
                record.id,
                True,
                token_problem=problem,
                token_differences=() if published is None else _differences(published, truth, base),
                list_differences=list_differences,
            )
        )
    return result


def check_tokens(session: DbSession) -> StatusCheck:
    """Every cached token against its list's row (cheap: no card is read)."""
    records = session.scalars(select(StatusListRecord).order_by(StatusListRecord.id))
    return _check(session, records, cards=False)


def check_status_lists(session: DbSession) -> StatusCheck:
    """Every cached token, and every list, against the statuses of the cards."""
    records = session.scalars(select(StatusListRecord).order_by(StatusListRecord.id))
    return _check(session, records, cards=True)
