"""Reads of resident data for a person to see, each committed to the audit log before the data is
returned.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy.exc import SQLAlchemyError

from .. import audit
from .._types import DbSession
from ..audit import Actor
from ..context import Deps
from ..errors import AuditUnavailableError
from .records import ResidentView, find_residents, get_resident

log = logging.getLogger("cardservice.residents")


def _record_read(
    session: DbSession,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    subject: str | None = None,
    detail: str | None = None,
) -> None:
    """Commit the audit entry of a read BEFORE the caller gets the data.

    Fail closed, on purpose: if the entry cannot be written, the read is refused with
    AuditUnavailableError (a clean 503, no data shown) rather than served without a trail, since
    an unaudited read is exactly what a rogue staff member would want the failure to give them.
    SQLAlchemy's message is not logged: it carries the statement's parameters (the resident id).
    """
    try:
        audit.record(session, now=now, actor=actor, action=action, subject=subject, detail=detail)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.error("a read of resident data could not be written to the audit log: refused")
        raise AuditUnavailableError() from None


def view_resident(
    session: DbSession, deps: Deps, resident_id: str, *, now: datetime, actor: Actor
) -> ResidentView:
    """get_resident() for showing the record to someone: one "resident.view" audit entry
    (random resident id and actor, no personal data), committed before the record is returned.
    A record that does not open (not found, master key missing) is not audited: nothing shows."""
    view = get_resident(session, deps, resident_id)
    _record_read(
        session, now=now, actor=actor, action="resident.view", subject=f"resident:{view.id}"
    )
    return view


def search_residents(
    session: DbSession,
    deps: Deps,
    *,
    display_name: str,
    birth_date: date | None,
    now: datetime,
    actor: Actor,
) -> list[ResidentView]:
    """find_residents() for a staff search: one "resident.search" audit entry whose detail is
    only the number of results. Never the query: a name and a birth date are personal data, and
    the log must carry none (docs/privacy.md). A refused query (no name) is not audited."""
    found = find_residents(session, deps, display_name=display_name, birth_date=birth_date)
    _record_read(
        session, now=now, actor=actor, action="resident.search", detail=f"count:{len(found)}"
    )
    return found
