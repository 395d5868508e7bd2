"""Appending to and reading the hash-chained audit log.

`record()` never commits: it is called inside the service's own transaction, so an action and its
audit entry are written together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import scoped_session

from ..models import GENESIS_HASH, AuditEntry, AuditHead
from ._types import DbSession
from .locking import lock


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a staff member, an API token, or a system command."""

    kind: str  # "staff" | "token" | "system"
    id: int | str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def staff_id(self) -> int | None:
        return int(self.id) if self.kind == "staff" else None

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls("staff", staff_id)

    @classmethod
    def token(cls, token_id: int) -> Actor:
        return cls("token", token_id)

    @classmethod
    def system(cls, command: str) -> Actor:
        return cls("system", command)


def entry_hash(
    prev_hash: str,
    *,
    at: datetime,
    actor: str,
    action: str,
    card_number: str | None,
    subject: str | None,
    detail: str | None,
) -> str:
    # Canonical JSON of the fields: unambiguous, and reproducible by an auditor with any tool.
    canonical = json.dumps(
        [
            prev_hash,
            at.isoformat(timespec="microseconds"),
            actor,
            action,
            card_number,
            subject,
            detail,
        ],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _head(session: DbSession) -> AuditHead:
    # FOR UPDATE serialises concurrent appenders on PostgreSQL; SQLite serialises writers anyway.
    # Once locked, the row stays locked until the transaction ends, so within one transaction
    # (a batch print writes hundreds of entries) the locked head is reused instead of re-read.
    real = session() if isinstance(session, scoped_session) else session
    transaction = real.get_transaction()
    cached = session.info.get("_audit_head")
    if cached is not None and cached[0] is transaction and cached[1] in session:
        head: AuditHead = cached[1]
        return head
    head_row = session.execute(
        lock(select(AuditHead).where(AuditHead.id == 1))
    ).scalar_one_or_none()
    if head_row is None:
        head_row = AuditHead(id=1, last_hash=GENESIS_HASH, entries=0)
        session.add(head_row)
        session.flush()
    if transaction is not None:
        session.info["_audit_head"] = (transaction, head_row)
    return head_row


def record(
    session: DbSession,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    card_number: str | None = None,
    subject: str | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (no personal data: codes and ids only)."""
    head = _head(session)
    at = now.astimezone(UTC)
    digest = entry_hash(
        head.last_hash,
        at=at,
        actor=actor.label,
        action=action,
        card_number=card_number,
        subject=subject,
        detail=detail,
    )
    entry = AuditEntry(
        at=at,
        actor=actor.label,
        staff_id=actor.staff_id,
        action=action,
        card_number=card_number,
        subject=subject,
        detail=detail,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(entry)
    head.last_hash = digest
    head.entries += 1
    return entry


def record_for_user(
    session: DbSession,
    user_id: int,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    detail: str | None = None,
) -> AuditEntry:
    """`record()` for an action on a staff account, named by the pseudonymous subject
    `user:<id>` (models.audit)."""
    return record(
        session, now=now, actor=actor, action=action, subject=f"user:{user_id}", detail=detail
    )


def list_entries(
    session: DbSession,
    *,
    card_number: str | None = None,
    staff_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; page with `before_id`. Filters: a card, a staff member, an action, and
    a time range (`since` included, `until` excluded)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if card_number is not None:
        query = query.where(AuditEntry.card_number == card_number)
    if staff_id is not None:
        query = query.where(AuditEntry.staff_id == staff_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int | None
    problem: str  # "edited" | "broken_link" | "head_mismatch"


def verify_chain(session: DbSession) -> list[ChainProblem]:
    """Recompute the chain; an edited, inserted or deleted entry shows up as a problem."""
    problems: list[ChainProblem] = []
    previous = GENESIS_HASH
    count = 0
    for entry in iter_entries(session):
        count += 1
        if entry.prev_hash != previous:
            problems.append(ChainProblem(entry.id, "broken_link"))
        expected = entry_hash(
            entry.prev_hash,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            card_number=entry.card_number,
            subject=entry.subject,
            detail=entry.detail,
        )
        if expected != entry.hash:
            problems.append(ChainProblem(entry.id, "edited"))
        previous = entry.hash
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_hash != previous or head.entries != count):
        problems.append(ChainProblem(None, "head_mismatch"))
    return problems


def iter_entries(session: DbSession) -> Iterator[AuditEntry]:
    """Every entry, oldest first, read in pages (the log can be long)."""
    last_id = 0
    while True:
        batch = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(1000)
            )
        )
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
