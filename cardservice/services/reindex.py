"""Re-indexing residents' blind indexes after the name folding changed (services.namefold).

The blind index is an HMAC of the folded name, so a new folding means computing it again from
each record in clear: the command `cardservice residents reindex` does it, batch by batch, and
is safe to re-run (it only reads rows still below the current version, and a run that stops
resumes where it was). Until it has run, lookups also try the previous version's index
(ResidentCipher.blind_indexes), so no record is missed meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..models import Resident
from . import audit
from ._types import DbSession
from .audit import Actor
from .context import Deps
from .locking import lock
from .namefold import FOLDING_VERSION

log = logging.getLogger("cardservice.reindex")


@dataclass(frozen=True)
class ReindexResult:
    reindexed: int
    # Rows whose data key is gone (an erasure that did not finish): nothing can open them, and
    # `cardservice keys sweep` removes them. Counted, never named.
    keyless: int


def reindex_residents(
    session: DbSession, deps: Deps, *, now: datetime, actor: Actor, batch: int = 200
) -> ReindexResult:
    """Bring every blind index to FOLDING_VERSION. One transaction per batch, rows locked while
    they are rewritten, so a correction made at the same time is not overwritten with an index
    of the old name; one audit entry with the count at the end."""
    from .residents import data_keys, open_record

    done = keyless = 0
    after = ""
    while True:
        rows = session.scalars(
            lock(
                select(Resident)
                .where(Resident.index_version < FOLDING_VERSION, Resident.id > after)
                .order_by(Resident.id)
                .limit(batch)
            )
        ).all()
        if not rows:
            break
        keys = data_keys(session, [row.id for row in rows])
        for row in rows:
            key = keys.get(row.id)
            if key is None:
                keyless += 1
                continue
            record = open_record(session, deps, row, key)
            row.blind_index = deps.cipher.blind_index(record.display_name, record.birth_date)
            row.index_version = FOLDING_VERSION
            done += 1
        after = rows[-1].id
        session.commit()
    if done:
        audit.record(
            session, now=now, actor=actor, action="resident.reindex", detail=f"count:{done}"
        )
        session.commit()
    if keyless:
        log.warning("reindex: %d keyless resident rows skipped (run `keys sweep`)", keyless)
    return ReindexResult(reindexed=done, keyless=keyless)
