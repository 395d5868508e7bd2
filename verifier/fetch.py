"""Fetching partners' documents over HTTP(S): timeouts, a size cap, retries, redirects only to
http(s), and revalidation with the stored copy's ETag.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_METADATA_BYTES = 1 << 20
MAX_STATUS_LIST_BYTES = 8 << 20
USER_AGENT = "citycard-verifier/1 (+sync)"


class FetchError(Exception):
    """A document could not be downloaded; the message is safe to show an operator."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): never to file:, ftp: or anything a server chooses."""

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"refused redirect to {urlsplit(newurl).scheme}: URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"not an http(s) URL: {url}")
    return url


class HttpFetcher:
    """GET with a timeout, a size cap and a few retries with backoff (stdlib only)."""

    def __init__(self, *, timeout: float = 10.0, retries: int = 1, backoff: float = 0.5) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._opener = urllib.request.build_opener(_HttpOnlyRedirects())

    def __call__(self, url: str, *, max_bytes: int) -> bytes:
        body = self.conditional(url, max_bytes=max_bytes).body
        if body is None:  # cannot happen: without an ETag, a 304 is an HTTP error
            raise FetchError(f"{url} answered 304 Not Modified to an unconditional request")
        return body

    def conditional(self, url: str, *, max_bytes: int, etag: str | None = None) -> Download:
        """GET, with If-None-Match when ``etag`` is given; body None means 304 Not Modified."""
        check_url(url)
        attempt = 0
        while True:
            try:
                return self._get(url, max_bytes, etag)
            except FetchError as exc:
                if attempt >= self.retries or not getattr(exc, "retryable", True):
                    raise
            attempt += 1
            time.sleep(self.backoff * 2 ** (attempt - 1))

    def _get(self, url: str, max_bytes: int, etag: str | None) -> Download:
        headers = {"User-Agent": USER_AGENT}
        if etag is not None:
            headers["If-None-Match"] = etag
        request = urllib.request.Request(url, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body: bytes = response.read(max_bytes + 1)
                new_etag = response.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the connection open otherwise
            if exc.code == 304 and etag is not None:
                return Download(body=None, etag=exc.headers.get("ETag") or etag)
            error = FetchError(f"HTTP {exc.code} from {url}")
            # A 4xx will not change on retry; a 5xx or 429 might.
            error.retryable = exc.code >= 500 or exc.code == 429  # type: ignore[attr-defined]
            raise error from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(f"cannot fetch {url}: {reason}") from None
        if len(body) > max_bytes:
            error = FetchError(f"{url} is larger than {max_bytes} bytes")
            error.retryable = False  # type: ignore[attr-defined]
            raise error
        return Download(body=body, etag=new_etag)


@dataclass(frozen=True, kw_only=True)
class Download:
    """What a GET brought: the body (None for 304 Not Modified) and the ETag it came with."""

    body: bytes | None
    etag: str | None


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
