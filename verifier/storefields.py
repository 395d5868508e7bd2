"""How the trust store writes its fields in JSON (base64, ISO 8601 times, ETags) and compares
issuer codes: shared by the partners' part of the store (trust.py) and the networks' part
(networks.py), which each read and write their own records.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any


class TrustStoreError(RuntimeError):
    """The trust store file cannot be read or written; the message says why."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise TrustStoreError(f"{what} is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TrustStoreError(f"{what} is not valid base64") from exc


def to_time_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_time_text(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustStoreError(f"{what} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TrustStoreError(f"{what} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise TrustStoreError(f"{what} has no time zone")
    return parsed.astimezone(UTC)


def etag(value: Any) -> str | None:
    # Optional (stores written before ETags were kept have none); only a hint for the next
    # fetch, never trusted: a 304 brings back the stored bytes, which are verified again.
    return value if isinstance(value, str) and value else None


def code_key(code: str) -> str:
    """Compare issuer codes loosely on the command line: "fr sxb", "FRSXB" and "FR SXB" match."""
    return "".join(code.split()).upper()
