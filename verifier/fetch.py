"""Fetching partners' documents over HTTP(S): timeouts, a size cap, retries, redirects only to
http(s), and revalidation with the stored copy's ETag.

The HTTP client itself is webguard.fetch, shared with the network coordinator's command (which
must not load this web app to admit a city); what is the verifier's own is here: the size caps
of its documents and revalidation against the stored copy.
"""

from __future__ import annotations

from collections.abc import Callable

# Re-exported: the verifier's modules, tests and benchmarks fetch through this module.
from webguard.fetch import USER_AGENT as USER_AGENT
from webguard.fetch import Download as Download
from webguard.fetch import FetchError as FetchError
from webguard.fetch import HttpFetcher as HttpFetcher
from webguard.fetch import check_url as check_url

MAX_METADATA_BYTES = 1 << 20
MAX_STATUS_LIST_BYTES = 8 << 20


Fetch = Callable[..., bytes]


def fetch_document(
    fetch: Fetch, url: str, *, max_bytes: int, stored: bytes | None, etag: str | None
) -> tuple[bytes, str | None]:
    """The document's bytes and ETag, revalidating ``stored`` when the fetcher can.

    A plain fetch function (tests, embeddings) downloads in full every time. A 304 answers
    with the stored bytes: the caller verifies them at the current time, as it would new ones.
    """
    conditional = getattr(fetch, "conditional", None)
    if conditional is None:
        return fetch(url, max_bytes=max_bytes), None
    download: Download = conditional(
        url, max_bytes=max_bytes, etag=etag if stored is not None else None
    )
    if download.body is None:
        if stored is None:  # a fetcher that reports 304 to a request it did not make conditional
            raise FetchError(f"{url} answered 304 Not Modified to an unconditional request")
        return stored, download.etag
    return download.body, download.etag
