"""Row locks: the one way a service reads a row that it is about to change.

The rule (docs/operations.md, "Concurrency"): a row whose values decide a write is read with the
lock taken by that very read, through `locked()` or `lock()`, never read first and locked later.
Both add FOR UPDATE and populate_existing: the session's identity map hands back the object it
already holds for a primary key, so without populate_existing a row re-read under the lock would
keep the values of an earlier, unlocked read (the bug that published revoked cards as valid: a
status list read, then locked, then signed with the list as it was before a revocation).

An unlocked read may still serve an answer that changes nothing (the cached status-list token);
the path that writes reads the row again through these helpers. A new row has nothing to lock:
when two writers may insert the same value (a random card number, the city), the unique
constraint decides and the loser either draws again under a SAVEPOINT or gets a clean conflict.

Locks are taken in one order, so two transactions never wait for each other in a circle: a
resident, then cards, then status lists by ascending id, then the city row, then signing keys,
then the audit-chain head (always last: every action appends to it before committing).

PostgreSQL takes the row lock. SQLite ignores FOR UPDATE, but every transaction there starts
with BEGIN IMMEDIATE (security._sqlite_begin_immediate): writers run one at a time and each
reads what the previous one committed, which gives the same guarantee.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

from ._types import DbSession

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])


def locked(session: DbSession, model: type[T], ident: Any) -> T | None:
    """The row of `model` with primary key `ident`, locked until the transaction ends and
    freshly read from the database (not the identity map's copy); None if there is none."""
    return session.get(model, ident, with_for_update=True, populate_existing=True)


def lock(query: S) -> S:
    """`query` locking the rows it returns and refreshing any copies the session holds."""
    return query.with_for_update().execution_options(populate_existing=True)
