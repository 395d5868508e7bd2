"""What the city publishes: root-signed issuer metadata and signed status lists.

Both are cached signed documents in the database, re-signed when their content changes or when
half their time-to-live has passed, so every web worker (and any CDN in front) serves identical
bytes with a stable ETag, and a verifier never sees a stale document from a healthy issuer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

import cardformat
from cardformat import IssuerMetadata, KeyState, PublishedKey, StatusList, StatusListRef

from ..models import City, SigningKey, StatusListRecord
from ._types import DbSession
from .context import Deps
from .errors import CityNotInitialisedError, NotFoundError
from .keys import active_signing_key, locked_city, root_key, rotate_if_due
from .locking import locked

STATUS_PATH = "/.well-known/citycard/status/"
METADATA_PATH = "/.well-known/citycard/issuer"
MAX_CACHE_SECONDS = 60


@dataclass(frozen=True)
class PublishedDocument:
    body: bytes
    issued_at: datetime
    ttl: int

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:32]

    def max_age(self, now: datetime) -> int:
        """Seconds a cache may keep it: until its re-signing point, at most a minute.

        A revocation, a suspension or a key compromise is re-signed on the very next fetch;
        the one-minute cap keeps a CDN or proxy in front from hiding it for longer (issue 5:
        published within a minute). Revalidating with the ETag costs caches a 304.
        """
        refresh_at = self.issued_at + timedelta(seconds=self.ttl // 2)
        limit = min(self.ttl, MAX_CACHE_SECONDS)
        return max(0, min(limit, int((refresh_at - now).total_seconds())))


def status_list_uri(deps: Deps, list_id: int) -> str:
    return f"{deps.public_url}{STATUS_PATH}{list_id}"


def _stale(issued_at: datetime | None, ttl: int, now: datetime) -> bool:
    return issued_at is None or now >= issued_at + timedelta(seconds=ttl // 2) or now < issued_at


def build_metadata(
    session: DbSession, deps: Deps, city: City, *, serial: int, now: datetime
) -> IssuerMetadata:
    keys = tuple(
        PublishedKey(
            kid=bytes.fromhex(k.kid),
            public_key=k.public_key,
            state=KeyState(k.state),
            not_before=k.not_before,
            not_after=k.not_after,
            retired_at=k.retired_at if k.state == KeyState.RETIRED.value else None,
        )
        for k in session.scalars(select(SigningKey).order_by(SigningKey.id))
    )
    lists = tuple(
        StatusListRef(id=list_id, uri=status_list_uri(deps, list_id))
        for list_id in session.scalars(select(StatusListRecord.id).order_by(StatusListRecord.id))
    )
    return IssuerMetadata(
        issuer=city.code,
        names=dict(city.names),
        root_key=city.root_public_key,
        keys=keys,
        status_lists=lists,
        # The size the lists were created with (the policy only chooses it for a new city).
        status_list_size=session.scalar(select(StatusListRecord.size).limit(1))
        or deps.policy.status_list_size,
        serial=serial,
        issued_at=now,
        ttl=deps.policy.metadata_ttl,
        endorsements=tuple(bytes.fromhex(e) for e in city.root_endorsements or ()),
    )


def issuer_metadata(session: DbSession, deps: Deps, *, now: datetime) -> PublishedDocument:
    """The current signed metadata, re-signed with serial + 1 when changed or half-way stale."""
    ttl = deps.policy.metadata_ttl
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise CityNotInitialisedError()
    if city.metadata_document is not None and not _stale(city.metadata_issued_at, ttl, now):
        assert city.metadata_issued_at is not None
        return PublishedDocument(city.metadata_document, city.metadata_issued_at, ttl)
    city = locked_city(session)
    # Another worker may have re-signed while this one waited for the lock.
    if city.metadata_document is None or _stale(city.metadata_issued_at, ttl, now):
        serial = city.metadata_serial + 1
        meta = build_metadata(session, deps, city, serial=serial, now=now)
        city.metadata_document = cardformat.sign_metadata(meta, root_key=root_key(session, deps))
        city.metadata_serial = serial
        city.metadata_issued_at = now
    assert city.metadata_document is not None and city.metadata_issued_at is not None
    document = PublishedDocument(city.metadata_document, city.metadata_issued_at, ttl)
    # Read before the commit (which expires the row): releases the lock, holds nothing after.
    session.commit()
    return document


def status_list_token(
    session: DbSession, deps: Deps, list_id: int, *, now: datetime
) -> PublishedDocument:
    """The signed Status List Token of one list (draft-ietf-oauth-status-list, CWT form)."""
    ttl = deps.policy.status_list_ttl
    record = session.get(StatusListRecord, list_id)
    if record is None:
        raise NotFoundError(_l("No status list has this id."))
    if record.token is not None and not _stale(record.token_issued_at, ttl, now):
        assert record.token_issued_at is not None
        return PublishedDocument(record.token, record.token_issued_at, ttl)
    # Before the list's lock: a key near its not_after is replaced first (keys.rotate_if_due).
    rotate_if_due(session, deps, now=now)
    # Re-read under the lock: the object above may predate a revocation committed since.
    record = locked(session, StatusListRecord, list_id)
    if record is None:
        raise NotFoundError(_l("No status list has this id."))
    if record.token is None or _stale(record.token_issued_at, ttl, now):
        city = session.scalars(select(City).limit(1)).first()
        if city is None:
            raise CityNotInitialisedError()
        _, key = active_signing_key(session, deps, now=now)
        record.token = cardformat.sign_status_list(
            StatusList.from_lst(record.lst, bits=record.bits),
            issuer=city.code,
            uri=status_list_uri(deps, list_id),
            signing_key=key,
            now=now,
            ttl=ttl,
            expires_at=now + timedelta(days=deps.policy.status_list_validity_days),
        )
        record.token_issued_at = now
    assert record.token is not None and record.token_issued_at is not None
    document = PublishedDocument(record.token, record.token_issued_at, ttl)
    # Read before the commit (which expires the row): releases the lock, holds nothing after.
    session.commit()
    return document
