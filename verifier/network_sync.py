"""Pinning networks and syncing their directories into the trust store.

Rules (docs/card-format.md section 9, docs/federation.md section 6):
- a directory is verified before it is stored: against the pinned network fingerprint
  (following endorsements), not dated in the future, not expired, and as the successor of the
  copy already stored (no lower serial, no other directory under the same serial, a history that
  extends the stored one);
- whatever fails, the last good copy stays, and the report says so;
- every city a network lists becomes a partner (``direct`` False) whose metadata is checked
  against the root the directory lists; a city no pinned network lists any more stops being a
  partner, unless this verifier pinned it directly.

The network part runs outside the store's lock; the results are merged in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from cardformat import (
    CardFormatError,
    NetworkDirectory,
    verify_directory,
    verify_metadata,
)
from cardformat.network import MAX_DIRECTORY_BYTES

from . import sync_round
from .fetch import MAX_METADATA_BYTES, Fetch, FetchError, check_url, fetch_document
from .networks import NetworkRecord, WantedMember, load_network, wanted_members
from .storefields import code_key
from .sync import PartnerError
from .trust import PartnerRecord, TrustDocument, TrustStore

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class NetworkReport(sync_round.SyncReport):
    """What one network's sync did; ``errors`` empty means its directory is up to date."""

    updated: bool = False
    active: int = 0
    suspended: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"network {self.code}"

    @property
    def counts(self) -> str:
        return f"{self.active} active, {self.suspended} suspended"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _stored(record: NetworkRecord) -> NetworkDirectory | None:
    try:
        return load_network(record)
    except Exception:  # damaged or tampered: any directory that verifies may replace it
        return None


@dataclass(kw_only=True)
class _Fetched:
    record: NetworkRecord
    report: NetworkReport
    directory: NetworkDirectory | None = None  # what the network says now (new or stored)
    data: bytes | None = None  # new verified bytes, if any
    etag: str | None = None
    confirmed: bool = False


def _fetch_network(record: NetworkRecord, *, now: datetime, fetch: Fetch) -> _Fetched:
    report = NetworkReport(code=record.code)
    out = _Fetched(record=record, report=report)
    stored = _stored(record)
    out.directory = stored
    try:
        data, out.etag = fetch_document(
            fetch,
            record.directory_url,
            max_bytes=MAX_DIRECTORY_BYTES,
            stored=None if stored is None else record.directory,
            etag=record.etag,
        )
        fresh = verify_directory(
            data, pinned_fingerprint=record.fingerprint, now=now, previous=stored
        )
        if fresh.network != record.code:
            raise PartnerError(f"the directory now names network {fresh.network}")
        if data != record.directory:
            out.data = data
            report.updated = True
        out.directory = fresh
        out.confirmed = True
    except (FetchError, CardFormatError, PartnerError) as exc:
        report.errors.append(sync_round.refusal("directory", exc))
    except Exception as exc:  # a bug or an unforeseen library error: report it, keep the copy
        log.exception("sync network %s: unexpected error", record.code)
        report.errors.append(f"unexpected {type(exc).__name__}")
    directory = out.directory
    if directory is None:
        return out
    if report.errors:
        report.errors[-1] += f"; keeping the last good copy (serial {directory.serial})"
    report.serial = directory.serial
    report.active = sum(1 for m in directory.members if m.state.value == "active")
    report.suspended = len(directory.members) - report.active
    if directory.is_expired(now):
        report.errors.append(
            f"the directory EXPIRED at {_when(directory.expires_at)}: its members' cards are "
            "status_unknown until a newer one is accepted"
        )
    elif directory.expires_soon(now):
        report.warnings.append(f"the directory expires at {_when(directory.expires_at)}")
    if directory.is_late(now) and not directory.is_expired(now):
        report.warnings.append(
            f"the coordinator is late: the next directory was due {_when(directory.next_update)}"
        )
    return out


def _fetch_member(wanted: WantedMember, *, now: datetime, fetch: Fetch) -> bytes | str:
    """The member's metadata bytes, verified against the root its networks list; or why not."""
    try:
        check_url(wanted.metadata_url)
        data, _etag = fetch_document(
            fetch, wanted.metadata_url, max_bytes=MAX_METADATA_BYTES, stored=None, etag=None
        )
        metadata = verify_metadata(data, pinned_fingerprint=wanted.fingerprint, now=now)
    except FetchError as exc:
        return f"member {wanted.code}: {exc}"
    except CardFormatError as exc:
        return f"member {wanted.code}: metadata refused ({sync_round.describe(exc)})"
    if code_key(metadata.issuer) != code_key(wanted.code):
        return f"member {wanted.code}: its metadata names {metadata.issuer}"
    return data


def sync_networks(
    store: TrustStore,
    *,
    now: datetime,
    fetch: Fetch,
    codes: list[str] | None = None,
    workers: int = 8,
) -> list[NetworkReport]:
    """Refresh every pinned network's directory (or those named) and the partners they list."""
    document = store.read_all()
    records = sync_round.selected(document.networks, codes)
    if not document.networks:
        return []
    fetched = sync_round.in_parallel(
        lambda r: _fetch_network(r, now=now, fetch=fetch), list(records.values()), workers=workers
    )

    # Every network's current word, fetched now or stored, decides who is a partner.
    directories = {f.record.code: f.directory for f in fetched if f.directory is not None}
    for code, other in document.networks.items():
        if code not in records and (stored := _stored(other)) is not None:
            directories[code] = stored
    wanted, conflicts = wanted_members(directories)
    to_fetch = [
        member
        for code, member in wanted.items()
        if (existing := document.partners.get(code)) is None
        or (not existing.direct and existing.fingerprint != member.fingerprint)
    ]
    outcomes = sync_round.in_parallel(
        lambda m: _fetch_member(m, now=now, fetch=fetch), to_fetch, workers=workers
    )
    members = dict(zip((m.code for m in to_fetch), outcomes, strict=True))

    reports = {f.record.code: f.report for f in fetched}
    with store.transaction_all() as current:
        for item in fetched:
            latest = current.networks.get(item.record.code)
            if latest is None or latest.fingerprint != item.record.fingerprint:
                item.report.errors.append("removed or re-pinned during sync; nothing stored")
                continue
            current.networks[latest.code] = _merge(latest, item, now=now)
        _reconcile(current, wanted, members, now=now, reports=reports)
        for code, names in conflicts.items():
            for name in names:
                if name in reports:
                    reports[name].errors.append(
                        f"member {code}: the pinned networks {', '.join(names)} list different "
                        "roots; it is trusted through none of them"
                    )
    out = sorted(reports.values(), key=lambda r: r.code)
    sync_round.log_reports(log, out)
    return out


def _merge(latest: NetworkRecord, item: _Fetched, *, now: datetime) -> NetworkRecord:
    changes = sync_round.attempt(item.report, now=now)
    if item.data is not None:
        changes["directory"] = item.data
    if item.confirmed:
        changes["fetched_at"] = now
        changes["etag"] = item.etag
    return replace(latest, **changes)  # type: ignore[arg-type]


def _reconcile(
    current: TrustDocument,
    wanted: dict[str, WantedMember],
    members: dict[str, bytes | str],
    *,
    now: datetime,
    reports: dict[str, NetworkReport],
) -> None:
    """Make the network-only partners exactly the cities the networks list."""
    for code, record in list(current.partners.items()):
        if not record.direct and code not in wanted:
            del current.partners[code]
            for report in reports.values():
                report.removed.append(code)
    for code, member in wanted.items():
        outcome = members.get(code)
        if isinstance(outcome, str):
            for name in member.networks:
                if name in reports:
                    reports[name].errors.append(outcome)
            continue
        existing = current.partners.get(code)
        if existing is not None and existing.direct:
            continue  # the operator's own pin wins; the networks only add to its display
        if outcome is None:
            if existing is not None and existing.metadata_url != member.metadata_url:
                current.partners[code] = replace(existing, metadata_url=member.metadata_url)
            continue
        current.partners[code] = PartnerRecord(
            code=code,
            direct=False,
            metadata_url=member.metadata_url,
            fingerprint=member.fingerprint,
            added_at=existing.added_at if existing is not None else now,
            metadata=outcome,
            metadata_fetched_at=now,
            last_attempt_at=now,
            last_success_at=now,
        )
        for name in member.networks:
            if name in reports and existing is None:
                reports[name].added.append(code)


class NetworkPinError(Exception):
    """Adding or removing a network failed; the message says why."""


def add_network(
    store: TrustStore, *, directory_url: str, pinned_fingerprint: str, now: datetime, fetch: Fetch
) -> NetworkRecord:
    """Pin a network: fetch its directory, verify it against the fingerprint, store it.

    Raises NetworkPinError (nothing stored). The caller then syncs (members and their lists).
    """
    pinned, data, etag = sync_round.fetch_to_pin(
        fetch,
        directory_url,
        fingerprint=pinned_fingerprint,
        max_bytes=MAX_DIRECTORY_BYTES,
        error=NetworkPinError,
    )
    try:
        directory = verify_directory(data, pinned_fingerprint=pinned, now=now)
    except CardFormatError as exc:
        raise NetworkPinError(
            f"the directory does not verify ({sync_round.describe(exc)}); check the fingerprint "
            "with the network's coordinator out of band. Nothing was stored."
        ) from None
    record = NetworkRecord(
        code=directory.network,
        directory_url=directory_url,
        fingerprint=pinned,
        added_at=now,
        directory=data,
        fetched_at=now,
        last_attempt_at=now,
        last_success_at=now,
        etag=etag,
    )
    with store.transaction_all() as current:
        if any(code_key(c) == code_key(record.code) for c in current.networks):
            raise NetworkPinError(f"network {record.code} is already pinned; remove it first")
        current.networks[record.code] = record
    return record


def remove_network(
    store: TrustStore, code: str, *, now: datetime
) -> tuple[NetworkRecord, list[str]]:
    """Unpin a network; the cities only it listed stop being partners. Returns them too."""
    with store.transaction_all() as current:
        for existing in list(current.networks):
            if code_key(existing) == code_key(code):
                record = current.networks.pop(existing)
                break
        else:
            raise NetworkPinError(f"no network {code!r} is pinned")
        directories = {c: d for c, r in current.networks.items() if (d := _stored(r))}
        wanted, _conflicts = wanted_members(directories)
        dropped = [c for c, r in current.partners.items() if not r.direct and c not in wanted]
        for partner in dropped:
            del current.partners[partner]
    return record, sorted(dropped)


def listed_by_networks(store: TrustStore, code: str) -> WantedMember | None:
    """How the pinned networks list a city, if they do (for ``partners add``/``remove``)."""
    document = store.read_all()
    directories = {c: d for c, r in document.networks.items() if (d := _stored(r))}
    wanted, _conflicts = wanted_members(directories)
    for member_code, member in wanted.items():
        if code_key(member_code) == code_key(code):
            return member
    return None


__all__ = [
    "NetworkPinError",
    "NetworkReport",
    "add_network",
    "listed_by_networks",
    "remove_network",
    "sync_networks",
]
