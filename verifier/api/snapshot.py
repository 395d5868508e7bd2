"""The trust snapshot the agent page caches to verify offline (issue 4, item 5).

Everything in it is public: partners' published signing keys and status lists, already verified
by this server. The browser verifies card signatures with these keys (WebCrypto Ed25519) and
reads statuses from these lists, applying the same staleness rule as the server
(verification.is_stale): a list older than ``max_status_age_seconds`` or past its
``expires_at`` gives status_unknown. Binary values are base64url without padding.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import json

from cardformat import KeyState

from ..trust_index import TrustIndex


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_snapshot(index: TrustIndex, *, now: datetime, max_status_age: int) -> dict[str, Any]:
    issuers = []
    for code in sorted(index.partners):
        partner = index.partners[code]
        meta = partner.metadata
        keys = []
        for published in meta.keys:
            trusted = index.keys.get(published.kid)
            if trusted is None or trusted.issuer != meta.issuer:
                continue  # excluded from the server's index (ambiguous key id): same offline
            keys.append(
                {
                    "kid": b64url(published.kid),
                    "public_key": b64url(published.public_key),
                    "state": published.state.value,
                    "retired_at": rfc3339(published.retired_at)
                    if published.state is KeyState.RETIRED
                    else None,
                    # The key's validity (nbf, exp): a card issued outside it is key_revoked.
                    "not_before": rfc3339(published.not_before),
                    "not_after": rfc3339(published.not_after),
                }
            )
        lists = []
        for list_id in sorted(partner.status_lists):
            verified = partner.status_lists[list_id]
            lists.append(
                {
                    "id": list_id,
                    "bits": verified.status_list.bits,
                    "lst": b64url(verified.status_list.encode_lst()),
                    "issued_at": rfc3339(verified.issued_at),
                    "expires_at": rfc3339(verified.expires_at),
                    "fetched_at": rfc3339(partner.fetched_at.get(list_id)),
                }
            )
        issuers.append(
            {
                "code": meta.issuer,
                "name": dict(meta.names),
                "keys": keys,
                "status_list_size": meta.status_list_size,
                "status_lists": lists,
            }
        )
    return {
        "issuers": issuers,
        "max_status_age_seconds": max_status_age,
        "generated_at": rfc3339(now),
        # The server's latest fetch of this data: a device whose clock reads earlier cannot
        # judge time (verify.js refuses to, as verification.clock_in_doubt does here).
        "trust_fetched_at": rfc3339(index.fetched_until),
    }


@dataclass(frozen=True)
class RenderedSnapshot:
    body: bytes
    etag: str


class SnapshotCache:
    """The rendered snapshot for one trust-index generation, built once, served many times."""

    def __init__(self) -> None:
        # One attribute holding (key, value), replaced whole: a thread never pairs a new key
        # with an old value.
        self._entry: tuple[tuple[int, int], RenderedSnapshot] | None = None

    def get(
        self, index: TrustIndex, *, generation: int, now: datetime, max_status_age: int
    ) -> RenderedSnapshot:
        key = (generation, max_status_age)
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1]
        doc = build_snapshot(index, now=now, max_status_age=max_status_age)
        # The ETag covers the content, not generated_at, so an unchanged store revalidates to
        # 304 even after a worker restart.
        content = dict(doc, generated_at=None)
        etag = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]
        value = RenderedSnapshot(body=json.dumps(doc).encode("utf-8"), etag=etag)
        self._entry = (key, value)
        return value
