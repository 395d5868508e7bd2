"""Fetching and verifying what partner cities publish, into the trust store.

Rules (docs/federation.md, section 3):
- every document is verified before it is stored: metadata against the pinned root
  fingerprint, each status list against that partner's own signing keys;
- a metadata serial lower than the stored one is refused (rollback), and so is a status list
  older than the stored one;
- whatever fails, the last good copy stays; each partner gets its own report;
- network access has timeouts, a size cap and retries, and only http(s) is followed;
- documents are revalidated with the ETag of the stored copy (If-None-Match): a 304 brings back
  the stored bytes, which are then verified exactly as a fresh download would be.

The network part runs outside the store's lock (it can take seconds); the results are merged
into the store in one short transaction at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import cbor2

from cardformat import (
    CardFormatError,
    IssuerMetadata,
    fingerprint,
    verify_metadata,
    verify_status_list,
)

from .fetch import (
    MAX_METADATA_BYTES,
    MAX_STATUS_LIST_BYTES,
    Fetch,
    FetchError,
    fetch_document,
)
from .storefields import code_key
from .sync_round import (
    KEEPING_LAST_GOOD,
    SyncReport,
    attempt,
    describe,
    fetch_to_pin,
    in_parallel,
    log_reports,
    refusal,
    selected,
)
from .trust import PartnerRecord, StoredStatusList, TrustStore
from .trust_index import load_partner

log = logging.getLogger(__name__)


class PartnerError(Exception):
    """Adding or removing a partner failed; the message says why."""


@dataclass(kw_only=True)
class PartnerReport(SyncReport):
    """What one partner's sync did; ``errors`` empty means fully up to date."""

    metadata_updated: bool = False
    lists_updated: int = 0
    lists_total: int = 0
    metadata_stale: bool = False

    @property
    def counts(self) -> str:
        return f"{self.lists_updated}/{self.lists_total} lists"


def presented_fingerprint(data: bytes) -> str | None:
    """The root fingerprint a metadata document names, read WITHOUT verifying it.

    Only to show an operator both values when a pin does not match; never trusted.
    """
    try:
        obj = cbor2.loads(data)
        value = obj.value if isinstance(obj, cbor2.CBORTag) else obj
        payload = cbor2.loads(value[2])
        root = payload["root"]
        return fingerprint(root) if isinstance(root, bytes) and len(root) == 32 else None
    except Exception:  # any garbage: there is simply nothing to show
        return None


def add_partner(
    store: TrustStore,
    *,
    metadata_url: str,
    pinned_fingerprint: str,
    now: datetime,
    fetch: Fetch,
) -> tuple[PartnerRecord, PartnerReport]:
    """Pin a partner: fetch its metadata, verify it against the fingerprint, store, then sync.

    Raises PartnerError (nothing stored) on a bad fingerprint, a fetch failure, a document that
    does not verify, or a code already pinned.
    """
    pinned, data, etag = fetch_to_pin(
        fetch,
        metadata_url,
        fingerprint=pinned_fingerprint,
        max_bytes=MAX_METADATA_BYTES,
        error=PartnerError,
    )
    try:
        metadata = verify_metadata(data, pinned_fingerprint=pinned, now=now)
    except CardFormatError as exc:
        presented = presented_fingerprint(data)
        if presented is not None and presented != pinned:
            raise PartnerError(
                "fingerprint mismatch: the metadata is NOT signed by the key you pinned\n"
                f"  expected (you gave): {pinned}\n"
                f"  presented (server):  {presented}\n"
                "Check the fingerprint with the partner city out of band; nothing was stored."
            ) from None
        raise PartnerError(f"the metadata does not verify ({describe(exc)})") from None

    record = PartnerRecord(
        code=metadata.issuer,
        metadata_url=metadata_url,
        fingerprint=pinned,
        added_at=now,
        metadata=data,
        metadata_fetched_at=now,
        last_attempt_at=now,
        last_success_at=now,
        metadata_etag=etag,
    )
    with store.transaction() as records:
        for existing in list(records.values()):
            if code_key(existing.code) == code_key(record.code):
                if not existing.direct:
                    # Trusted through a network until now: pinned directly from now on, one
                    # partner either way (docs/federation.md section 6).
                    del records[existing.code]
                    record = replace(record, added_at=existing.added_at)
                    break
                raise PartnerError(
                    f"{existing.code} is already pinned (from {existing.metadata_url}); "
                    "remove it first to pin it again"
                )
        records[record.code] = record
    reports = sync_partners(store, now=now, fetch=fetch, codes=[record.code])
    return record, reports[0]


def remove_partner(store: TrustStore, code: str, *, network_root: str | None) -> PartnerRecord:
    """Unpin a city. One that pinned networks list (`network_root`: the root fingerprint they
    list for it, network_sync.listed_by_networks) stays a partner through them, the next sync
    checking its metadata against that root; one only networks list cannot be removed here
    (remove or leave the network instead)."""
    with store.transaction() as records:
        for existing_code, record in list(records.items()):
            if code_key(existing_code) == code_key(code):
                if not record.direct:
                    raise PartnerError(
                        f"{existing_code} is trusted through a network, not pinned here: "
                        "`verifier networks remove` stops trusting the network's members"
                    )
                if network_root is None:
                    del records[existing_code]
                else:
                    records[existing_code] = replace(record, direct=False, fingerprint=network_root)
                return record
    raise PartnerError(f"no partner {code!r} is pinned")


@dataclass(kw_only=True)
class _Fetched:
    """The outcome of one partner's network round, before it is merged into the store."""

    base: PartnerRecord
    report: PartnerReport
    metadata: bytes | None = None  # new verified metadata bytes, if any
    lists: dict[int, StoredStatusList] = field(default_factory=dict)
    keep_lists: set[int] = field(default_factory=set)
    metadata_confirmed: bool = False
    metadata_etag: str | None = None


def _sync_one(record: PartnerRecord, *, now: datetime, fetch: Fetch) -> _Fetched:
    """One partner's round, isolated: whatever goes wrong, the others still sync."""
    try:
        return _sync_one_unguarded(record, now=now, fetch=fetch)
    except Exception as exc:  # a bug or an unforeseen library error: report it, keep the copy
        log.exception("sync %s: unexpected error", record.code)
        report = PartnerReport(code=record.code)
        report.errors.append(f"unexpected {type(exc).__name__}; the last good copy is kept")
        return _Fetched(base=record, report=report)


def _sync_one_unguarded(record: PartnerRecord, *, now: datetime, fetch: Fetch) -> _Fetched:
    report = PartnerReport(code=record.code)
    out = _Fetched(base=record, report=report)
    try:
        current = load_partner(record).metadata
    except Exception:  # the stored copy is damaged: accept any verifying metadata again
        current = None

    metadata: IssuerMetadata | None = current
    metadata_ok = False
    try:
        data, out.metadata_etag = fetch_document(
            fetch,
            record.metadata_url,
            max_bytes=MAX_METADATA_BYTES,
            # A stored copy that no longer verifies is not revalidated: download it whole.
            stored=None if current is None else record.metadata,
            etag=record.metadata_etag,
        )
        fresh = verify_metadata(
            data,
            pinned_fingerprint=record.fingerprint,
            now=now,
            min_serial=None if current is None else current.serial,
        )
        if code_key(fresh.issuer) != code_key(record.code):
            raise PartnerError(f"the metadata now names issuer {fresh.issuer}")
        # Same serial: only a re-signature (a fresh issued-at) may replace what we have.
        if (
            current is not None
            and fresh.serial == current.serial
            and fresh.issued_at < current.issued_at
        ):
            raise PartnerError("metadata with the same serial but older: refused")
        if data != record.metadata:
            out.metadata = data
            report.metadata_updated = True
        metadata = fresh
        metadata_ok = True
    except (FetchError, CardFormatError, PartnerError) as exc:
        report.errors.append(refusal("metadata", exc, kept=KEEPING_LAST_GOOD))

    out.metadata_confirmed = metadata_ok
    if metadata is None:
        return out
    report.serial = metadata.serial
    report.metadata_stale = metadata.is_stale(now)
    if report.metadata_stale:
        report.warnings.append("metadata is past its ttl: the issuer has not re-signed it")

    own_keys = {key.kid: key for key in metadata.trusted_keys()}
    stored = {entry.id: entry for entry in record.status_lists}
    report.lists_total = len(metadata.status_lists)
    for ref in metadata.status_lists:
        out.keep_lists.add(ref.id)
        url = urljoin(record.metadata_url, ref.uri)
        previous = stored.get(ref.id)
        same_uri = previous is not None and previous.uri == ref.uri
        try:
            token, etag = fetch_document(
                fetch,
                url,
                max_bytes=MAX_STATUS_LIST_BYTES,
                stored=previous.token if previous is not None and same_uri else None,
                etag=previous.etag if previous is not None else None,
            )
            old = None
            if previous is not None and previous.token != token:
                try:
                    old = verify_status_list(
                        previous.token,
                        resolve_key=own_keys.get,
                        now=previous.fetched_at,
                        expected_uri=ref.uri,
                    )
                except CardFormatError:
                    old = None  # the stored one no longer verifies (key revoked): replace it
            # Steps S1 to S11 of docs/card-format.md section 6, announced size and rollback
            # included: the rules live in cardformat.
            verify_status_list(
                token,
                resolve_key=own_keys.get,
                now=now,
                expected_uri=ref.uri,
                expected_size=metadata.status_list_size,
                min_issued_at=old.issued_at if old is not None else None,
            )
            out.lists[ref.id] = StoredStatusList(
                id=ref.id, uri=ref.uri, token=token, fetched_at=now, etag=etag
            )
            report.lists_updated += 1
        except (FetchError, CardFormatError) as exc:
            report.errors.append(refusal(f"status list {ref.id}", exc))
    return out


def sync_partners(
    store: TrustStore,
    *,
    now: datetime,
    fetch: Fetch,
    codes: Iterable[str] | None = None,
    workers: int = 8,
) -> list[PartnerReport]:
    """Refresh every partner (or those named); returns one report per partner, by code."""
    records = selected(store.read(), codes)
    if not records:
        return []
    results = in_parallel(
        lambda r: _sync_one(r, now=now, fetch=fetch), list(records.values()), workers=workers
    )

    with store.transaction() as current:
        for item in results:
            code = item.base.code
            latest = current.get(code)
            if latest is None or latest.fingerprint != item.base.fingerprint:
                item.report.errors.append("removed or re-pinned during sync; nothing stored")
                continue
            current[code] = _merge(latest, item, now=now)
    reports = [item.report for item in results]
    reports.sort(key=lambda r: r.code)
    log_reports(log, reports)
    return reports


def _merge(latest: PartnerRecord, item: _Fetched, *, now: datetime) -> PartnerRecord:
    changes: dict[str, Any] = attempt(item.report, now=now)
    if item.metadata is not None:
        changes["metadata"] = item.metadata
        changes["metadata_fetched_at"] = now
    elif item.metadata_confirmed:
        # Unchanged but re-confirmed: record when we last saw it current.
        changes["metadata_fetched_at"] = now
    if item.metadata_confirmed:
        changes["metadata_etag"] = item.metadata_etag
    lists = {entry.id: entry for entry in latest.status_lists}
    lists.update(item.lists)
    if item.report.serial is not None:
        # Lists the issuer no longer publishes are dropped; others keep their last good copy.
        lists = {i: e for i, e in lists.items() if i in item.keep_lists}
    changes["status_lists"] = tuple(lists[i] for i in sorted(lists))
    return replace(latest, **changes)
