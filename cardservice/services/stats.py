"""Aggregate figures for supervisors: counts only, never a list of people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..models import AuditEntry, Card, Resident
from ._types import DbSession


@dataclass(frozen=True, kw_only=True)
class Statistics:
    residents: int
    cards_by_status: dict[str, int]  # valid / suspended / revoked, unexpired cards only
    cards_expired: int
    enrolments_last_30_days: int
    cards_issued_last_30_days: int


def statistics(session: DbSession, *, now: datetime) -> Statistics:
    by_status = dict.fromkeys(("valid", "suspended", "revoked"), 0)
    rows = session.execute(
        select(Card.status, func.count()).where(Card.expires_at > now).group_by(Card.status)
    )
    for status, count in rows:
        by_status[str(status)] = int(count)
    month_ago = now - timedelta(days=30)

    def count_actions(action: str) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.at >= month_ago)
            )
            or 0
        )

    return Statistics(
        residents=int(session.scalar(select(func.count()).select_from(Resident)) or 0),
        cards_by_status=by_status,
        cards_expired=int(
            session.scalar(select(func.count()).select_from(Card).where(Card.expires_at <= now))
            or 0
        ),
        enrolments_last_30_days=count_actions("resident.enrol"),
        cards_issued_last_30_days=count_actions("card.issue") + count_actions("card.replace"),
    )
