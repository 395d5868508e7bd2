"""What a partner sync (sync.py) and a network sync (network_sync.py) share, written once.

Both fetch documents in parallel outside the store's lock, keep the last good copy of whatever
fails, then record each attempt on its record and log one line per report. The documents and
the rules that verify them differ; the round around them is this one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cardformat import CardFormatError, normalize_fingerprint

from .fetch import Fetch, FetchError, check_url, fetch_document
from .storefields import code_key

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Record = TypeVar("Record")

# What the note of a refused document says the sync did about it.
KEEPING_LAST_GOOD = ", keeping the last good copy"


@dataclass(kw_only=True)
class SyncReport:
    """What one record's sync did; ``errors`` empty means it is fully up to date."""

    code: str
    serial: int | None = None
    errors: list[str] = field(default_factory=list)
    # Not failures of this sync, but worth an operator's attention (a lapsed issuer ttl).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def label(self) -> str:
        """How the log line names what was synced."""
        return self.code

    @property
    def counts(self) -> str:
        """The log line's summary of what the record holds."""
        raise NotImplementedError


def selected(records: dict[str, Record], codes: Iterable[str] | None) -> dict[str, Record]:
    """The records named by ``codes`` (all of them for None), codes compared as stored."""
    if codes is None:
        return records
    wanted = {code_key(c) for c in codes}
    return {c: r for c, r in records.items() if code_key(c) in wanted}


def in_parallel(
    work: Callable[[Item], Outcome], items: Collection[Item], *, workers: int
) -> list[Outcome]:
    """``work`` on every item, at most ``workers`` at a time (network waits, not CPU)."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(work, items))


def fetch_to_pin(
    fetch: Fetch, url: str, *, fingerprint: str, max_bytes: int, error: type[Exception]
) -> tuple[str, bytes, str | None]:
    """A pin's first download: (the fingerprint normalised, the document, its ETag).

    Raises ``error`` saying why (a malformed fingerprint, a refused URL, a failed fetch), before
    anything is verified or stored.
    """
    try:
        pinned = normalize_fingerprint(fingerprint)
    except CardFormatError as exc:
        raise error(f"invalid fingerprint: {exc}") from None
    try:
        check_url(url)
        data, etag = fetch_document(fetch, url, max_bytes=max_bytes, stored=None, etag=None)
    except FetchError as exc:
        raise error(str(exc)) from None
    return pinned, data, etag


def describe(exc: CardFormatError) -> str:
    return f"{exc.code}: {exc}"


def refusal(subject: str, exc: Exception, *, kept: str = "") -> str:
    """The report line for a document that could not be fetched, or was fetched and refused."""
    if isinstance(exc, FetchError):
        return f"{subject}: {exc}"
    reason = describe(exc) if isinstance(exc, CardFormatError) else str(exc)
    return f"{subject} refused{kept} ({reason})"


def attempt(report: SyncReport, *, now: datetime) -> dict[str, object]:
    """The record's changes for one attempt: when, what went wrong, and when it last worked."""
    changes: dict[str, object] = {
        "last_attempt_at": now,
        "last_error": "; ".join(report.errors) or None,
    }
    if report.ok:
        changes["last_success_at"] = now
    return changes


def log_reports(log: logging.Logger, reports: Collection[SyncReport]) -> None:
    """One line per report, on the caller's logger (each kind of sync keeps its own)."""
    for report in reports:
        # Codes and counts only: nothing here is about a resident.
        log.info(
            "sync %s: %s, serial %s, %s",
            report.label,
            "ok" if report.ok else "FAILED",
            report.serial,
            report.counts,
        )
